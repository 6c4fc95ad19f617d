# Objects referenced from a known number of places; marks counted exactly.
# argv: OUTDIR. Waits (with a deadline) until the probe has written a sample
# that shows the watched objects, so the test reads settled numbers.
import os
import sys
import time
import refscope


class Thing(object):
    pass


class Legacy:                     # old-style on Python 2: named by its class
    pass


class Holder(object):
    pass


thing = Thing()                   # 1: this global
LIST = [thing, thing]             # 2 + 1 = 3
DICT = {'a': thing}               # 4
holder = Holder()
holder.attr = thing               # 5
lst = []                          # a list: not weakref-able, watched strongly
OTHER = [lst, lst]                # lst: global + 2 = 3
LEGACY = [Legacy(), Legacy(), Legacy()]
refscope.watch(thing, 'thing')
refscope.watch(lst, 'lst')
for i in range(37):
    refscope.mark('frame')
for i in range(5):
    refscope.mark('other')
refscope.mark()


def seen(outdir):
    for n in sorted(os.listdir(outdir)):
        f = open(os.path.join(outdir, n))
        try:
            text = f.read()
        finally:
            f.close()
        if text.find('"watch":[["thing"') >= 0 and text.find('"frame":37') >= 0:
            return True
    return False


deadline = time.time() + 30
while not seen(sys.argv[1]):
    if time.time() > deadline:
        sys.stderr.write('no sample seen\n')
        sys.exit(3)
    time.sleep(0.02)
sys.stdout.write('ok\n')

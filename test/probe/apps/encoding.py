# Mark names and watch labels that need escaping: the records must still parse.
import os
import sys
import time
import refscope

if sys.version_info[0] >= 3:
    names = ['caf\xe9', '\u20ac', '\xff', '\U0001F600', 'q"b\\c\x01\n']
else:
    names = ['caf\xc3\xa9', u'\u20ac', '\xff', u'\U0001F600', 'q"b\\c\x01\n']
for n in names:
    refscope.mark(n)
refscope.watch(sys, names[2])


def seen(outdir):
    for n in sorted(os.listdir(outdir)):
        f = open(os.path.join(outdir, n))
        try:
            text = f.read()
        finally:
            f.close()
        if text.find('"watch":[["') >= 0:
            return True
    return False


deadline = time.time() + 30
while not seen(sys.argv[1]):
    if time.time() > deadline:
        sys.exit(3)
    time.sleep(0.02)

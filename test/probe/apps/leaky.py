# Leaks two ways, one per frame, until the probe has written referrers records for
# both types (or a deadline passes: exit 3). argv: OUTDIR
import os
import sys
import time
import refscope
import bus
import cache

BUS = bus.EventBus()


def found(outdir, names):
    text = ''
    for n in sorted(os.listdir(outdir)):
        f = open(os.path.join(outdir, n))
        try:
            text = text + f.read()
        finally:
            f.close()
    for name in names:
        if text.find('"k":"referrers"') < 0 or text.find('"type":"%s"' % name) < 0:
            return False
    return True


def frame(i):
    bus.Widget(BUS)
    cache.CACHE[i] = cache.Entry(i)
    refscope.mark('frame')


deadline = time.time() + 60
i = 0
while True:
    frame(i)
    i += 1
    if i % 10 == 0 and found(sys.argv[1], ['bus.Widget', 'cache.Entry']):
        break
    if time.time() > deadline:
        sys.stderr.write('no referrers records\n')
        sys.exit(3)
    time.sleep(0.005)
sys.stdout.write('leaked %d\n' % i)

"""A builtin type grows in a set (no list or dict holds it): the narrowing window on 3.4+
uses tracemalloc, which the probe imports then. The app makes no dict or function per frame,
so the census's dicts and functions stay flat unless the probe's import is counted as the
app's. Python 2.5 subset."""
import sys
import time

try:
    from refscope import mark
except ImportError:
    def mark(name='frame'): pass

KEPT = set()


def main():
    frames = 300
    if len(sys.argv) > 1:
        frames = int(sys.argv[1])
    for frame in range(frames):
        KEPT.add((frame, object()))
        mark('frame')
        time.sleep(0.01)
    sys.stdout.write('kept=%d tracemalloc=%s\n' % (len(KEPT), 'tracemalloc' in sys.modules))


main()

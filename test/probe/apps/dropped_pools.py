"""The probe keeps nothing of the app's alive, and its own state does not read as the app's.

40 classes of its own, each with a pool (a list) that grows by one instance a frame, so
every class is a growing suspect whose holder the referrers pass finds; then the app drops
every pool (then marks on). Printed: the instances still alive after a collection (0 unless something
outside the app holds them) and the frames run. Python 2.5 subset.
"""
import gc
import sys
import time

try:
    from refscope import mark
except ImportError:
    def mark(name='frame'): pass

frames = 200
if len(sys.argv) > 1:
    frames = int(sys.argv[1])


class Base(object):
    __slots__ = ('n',)

    def __init__(self, n):
        self.n = n


CLASSES = []
for i in range(40):
    CLASSES.append(type('P%02d' % i, (Base,), {'__slots__': ()}))


def main():
    pools = []
    for c in CLASSES:
        pools.append([])
    for frame in range(frames):
        for i in range(len(CLASSES)):
            pools[i].append(CLASSES[i](frame))
        mark('frame')
        time.sleep(0.01)
    del pools[:]
    # marks go on without new instances: a window open at the drop closes within its 8 marks
    # (it follows one new instance through the frames that made it, this one included)
    for frame in range(40):
        mark('frame')
        time.sleep(0.01)
    gc.collect()
    alive = 0
    for o in gc.get_objects():
        if isinstance(o, Base):
            alive += 1
    sys.stdout.write('alive=%d frames=%d\n' % (alive, frames))


main()

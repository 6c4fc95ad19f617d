# A type whose __module__ lookup raises: the probe cannot name it. The app must
# not notice: same output, exit 0. A probe-error event records it.
import sys


def boom(cls):
    raise RuntimeError('no module for you')


Meta = type('Meta', (type,), {})
Odd = Meta('Odd', (object,), {})
Meta.__module__ = property(boom)
keep = [Odd() for i in range(5)]
sys.stdout.write('still fine %d\n' % len(keep))

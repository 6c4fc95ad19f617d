"""For test/probe/deep.test.ts: known untracked objects, then the probe's deep census.

Holds 3000 distinct floats in a list (one reference each) for 60 frames; from frame 30
on, also 500 references to the interpreter's cached small ints (left out by the deep
census: their summed references must not jump by 500).
"""
import time

try:
    from refscope import mark
except ImportError:
    def mark(name='frame'): pass

FLOATS = [float(i) + 0.5 for i in range(3000)]
SMALL = None

for frame in range(60):
    if frame == 30:
        SMALL = [i % 200 for i in range(500)]
    mark('frame')
    time.sleep(0.05)

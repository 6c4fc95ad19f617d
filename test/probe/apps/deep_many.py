"""For test/probe/deep.test.ts: more untracked objects referenced twice than the deep census
may hold ids for (8192), from the first census on.

Holds 20000 distinct floats, each in two lists (two references: the walk must hold an id
for each to count it once), for 40 frames.
"""
import time

try:
    from refscope import mark
except ImportError:
    def mark(name='frame'): pass

A = [float(i) + 0.25 for i in range(20000)]
B = list(A)

for frame in range(40):
    mark('frame')
    time.sleep(0.05)

# Benchmark app: 200 000 live objects and a CPU-bound loop that marks every 1000 iterations.
import sys, time
try:
    from refscope import mark
except ImportError:
    def mark(name='mark'):
        pass
class Node(object):
    __slots__ = ('a', 'b')
    def __init__(self, a):
        self.a = a
        self.b = None
HELD = [Node(i) for i in range(100000)] + [[i] for i in range(100000)]
def rss():
    f = open('/proc/self/statm'); r = int(f.read().split()[1]) * 4; f.close(); return r
r0 = rss()
t0 = time.time()
n = int(sys.argv[1])
x = 0
i = 0
while i < n:
    x += i * i % 7
    if i % 1000 == 0:
        mark('frame')
    i += 1
sys.stdout.write('%.3f rss_start=%d rss_end=%d\n' % (time.time() - t0, r0, rss()))

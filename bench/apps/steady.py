"""Bench app: holds 200 000 live objects and does steady work (Python 2.5 subset).

100 000 Record objects (slots, so 2 gc-tracked objects each with their tag list) stay
alive the whole run; each frame updates a window of them and builds temporaries that
die at once, then marks the frame. No leak: the bench measures what watching costs.

  --frames N   frames of work (default 850: ~10 s on CPython 3.11, ~12 ms a frame)
  --leak N     also keep N new Leaked objects a frame, for good (bench/narrow.mjs: a suspect
               for the narrowing window); default 0, no leak
  --report F   append one line "rss_kib=... objects=... steady_s=... cpu_s=..." to F at
               the end of the steady phase (RSS from /proc/self/statm and the process's
               user+system CPU seconds, probe threads included, read by the app itself)
"""
import gc
import os
import sys
import time

try:
    from refscope import mark
except ImportError:
    def mark(name='frame'): pass

N_RECORDS = 100000


class Record(object):
    __slots__ = ('x', 'y', 'name', 'tags')

    def __init__(self, i):
        self.x = i
        self.y = i * 0.5
        self.name = 'rec-%d' % i
        self.tags = [i % 7, i % 11]


class Leaked(object):
    def __init__(self, frame):
        self.frame = frame


KEPT = []


def option(name, default, cast):
    args = sys.argv[1:]
    for i in range(len(args) - 1):
        if args[i] == '--' + name:
            return cast(args[i + 1])
    return default


def rss_kib():
    f = open('/proc/self/statm')
    try:
        pages = int(f.read().split()[1])
    finally:
        f.close()
    return pages * os.sysconf('SC_PAGE_SIZE') // 1024


def work(store, frame):
    start = (frame * 997) % (N_RECORDS - 20000)
    acc = 0.0
    window = store[start:start + 20000]
    for rec in window:
        rec.x += 1
        acc += rec.y * rec.tags[0]
    rows = []
    for i in range(15000):
        rows.append((i, frame, [i, acc]))
    words = ' '.join([r.name for r in window[:3000]]).split()
    return acc + len(rows) + len(words)


def main():
    frames = option('frames', 850, int)
    report = option('report', None, str)
    leak = option('leak', 0, int)
    store = [Record(i) for i in range(N_RECORDS)]
    t0 = time.time()
    total = 0.0
    for frame in range(frames):
        total += work(store, frame)
        for i in range(leak):
            KEPT.append(Leaked(frame))
        mark('frame')
    steady = time.time() - t0
    if report:
        out = open(report, 'a')
        try:
            cpu = os.times()
            out.write('rss_kib=%d objects=%d steady_s=%.3f cpu_s=%.3f\n'
                      % (rss_kib(), len(gc.get_objects()), steady, cpu[0] + cpu[1]))
        finally:
            out.close()


main()

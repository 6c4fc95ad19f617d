# Allocates and frees a 4 MiB block three times, then prints how much of it the process
# still holds (RSS above the start), what its environment says of glibc's mmap threshold,
# and its pid. Bare, glibc keeps the last two (its mmap threshold rose to the first one's
# size when it was unmapped); with the threshold pinned, none.
import os
import sys


def rss_kib():
    f = open('/proc/self/statm')
    try:
        return int(f.read().split()[1]) * (os.sysconf('SC_PAGE_SIZE') // 1024)
    finally:
        f.close()


base = rss_kib()
for i in range(3):
    block = 'x' * (4 << 20)
    block = None
sys.stdout.write('held=%d var=%s marker=%s pid=%d\n' % (
    rss_kib() - base, os.environ.get('MALLOC_MMAP_THRESHOLD_', '-'),
    os.environ.get('REFSCOPE_MALLOC_PINNED', '-'), os.getpid()))

"""Emulated-device app: leaks until the device's memory limit kills it.

Each frame keeps a Frame holding 256 KiB of fresh strings in a module list (LEAKED) and
marks 'frame': object-growth of Frame, one per frame. Under a 128 MB memory cgroup the
kernel's OOM killer ends it with SIGKILL.
Python 2.5 to 3.13.
"""
import os
import sys
import time

try:
    from refscope import mark
except ImportError:
    def mark(name='frame'): pass

LEAKED = []


class Frame:
    def __init__(self, n):
        self.n = n
        self.payload = []
        for i in range(4):
            self.payload.append(('%08d' % n) * 8192 + str(i))


def main():
    pause = 0.02
    limit = 100000
    if len(sys.argv) > 1:
        limit = int(sys.argv[1])
    frame = 0
    while frame < limit:
        LEAKED.append(Frame(frame))
        frame = frame + 1
        mark('frame')
        time.sleep(pause)


main()

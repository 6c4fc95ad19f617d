"""Emulated-device app: leaks until the device's memory limit kills it.

Each frame keeps 1 MiB of fresh strings in a module list (LEAKED) and marks 'frame'.
It writes the frame number to frames.txt (fsynced) so a test knows how far it got.
Under a 128 MB memory cgroup the kernel's OOM killer ends it with SIGKILL.
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


def main():
    pause = 0.02
    limit = 100000
    if len(sys.argv) > 1:
        limit = int(sys.argv[1])
    frame = 0
    while frame < limit:
        chunk = []
        for i in range(16):
            chunk.append(('%08d' % frame) * 8192 + str(i))
        LEAKED.append(chunk)
        frame = frame + 1
        mark('frame')
        time.sleep(pause)


main()

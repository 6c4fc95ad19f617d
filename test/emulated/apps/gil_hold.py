"""Emulated-device app: grows by 8 MiB while stuck in C code holding the GIL.

ctypes.PyDLL calls keep the GIL, so the probe's sampling thread cannot run during
libc's usleep; a native sampler still records. Python 2.5 (ctypes) to 3.13.
"""
import ctypes
import time

HELD = []


def main():
    libc = ctypes.PyDLL(None)
    time.sleep(0.5)
    HELD.append(' ' * (8 * 1024 * 1024))
    libc.usleep(2000000)
    time.sleep(0.5)


main()

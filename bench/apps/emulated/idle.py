"""Emulated-device app: does nothing for N seconds (default 30), for measuring sampling cost.
Python 2.5 to 3.13."""
import sys
import time

try:
    from refscope import mark
except ImportError:
    def mark(name='tick'): pass

end = time.time() + float((sys.argv[1:] or ['30'])[0])
while time.time() < end:
    time.sleep(0.5)
    mark('tick')

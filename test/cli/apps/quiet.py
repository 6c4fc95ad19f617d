# A short, quiet app: a few frames, nothing on stdout.
import sys, time
try:
    from refscope import mark
except ImportError:
    def mark(name): pass
n = 0
frames = int((sys.argv[1:] or ['20'])[0])
while n < frames:
    time.sleep(0.02)
    mark('frame')
    n = n + 1

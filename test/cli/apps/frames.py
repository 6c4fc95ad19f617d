# Prints a numbered line every frame until the file named by its argument exists: on stdout,
# and every fifth frame one on stderr too; each line is written whole and flushed (as a
# terminal's line buffering does), so a line is one write.
import os, sys, time
try:
    from refscope import mark
except ImportError:
    def mark(name): pass
stop = sys.argv[1]
PAD = ' timers: ' + '=' * 40 + ' end'
i = 0
while not os.path.exists(stop):
    sys.stdout.write('out %d%s\n' % (i, PAD))
    sys.stdout.flush()
    if i % 5 == 0:
        sys.stderr.write('err %d%s\n' % (i, PAD))
        sys.stderr.flush()
    mark('frame')
    i = i + 1
    time.sleep(0.01)
sys.stderr.write('frames: %d\n' % i)

# A chatty app for the bounded-storage tests: many types (so every census record is
# large), a steady trickle of new objects, a line of output every 50 steps (the same
# bytes every run), then it exits with the status argv[3] says.
# argv: steps types [status]; a step sleeps 2 ms. Runs bare on 2.5 to 3.13.
import sys
import time
try:
    from refscope import mark
except ImportError:
    def mark(name):
        pass

steps = int(sys.argv[1])
ntypes = int(sys.argv[2])
status = 0
if len(sys.argv) > 3:
    status = int(sys.argv[3])
classes = []
for i in range(ntypes):
    classes.append(type('Kind%04d' % i, (object,), {}))
keep = []
for c in classes:
    keep.append(c())
step = 0
out = sys.stdout
while step < steps:
    keep.append(classes[step % ntypes]())
    step += 1
    mark('step')
    if step % 50 == 0:
        out.write('step %d\n' % step)
    time.sleep(0.002)
out.write('done %d objects\n' % len(keep))
out.flush()
sys.exit(status)

# A chatty app for the bounded-storage tests: many types (so every census record is
# large), a steady trickle of new objects for `seconds`, output that is the same bytes
# whatever the timing, then it exits with the status argv[3] says. With argv[4] = N,
# it also watches N objects under long labels (so every sample record is large too).
# With argv[5] = PATH, it runs while PATH exists, then `seconds` more (the test decides).
# argv: seconds types [status [watched [PATH]]]. Runs bare on 2.5 to 3.13.
import os
import sys
import time
try:
    from refscope import mark, watch
except ImportError:
    def mark(name):
        pass

    def watch(obj, label):
        pass

seconds = float(sys.argv[1])
ntypes = int(sys.argv[2])
status = 0
if len(sys.argv) > 3:
    status = int(sys.argv[3])
out = sys.stdout
classes = []
for i in range(ntypes):
    classes.append(type('Kind%04d' % i, (object,), {}))
    if i % 10 == 0:
        out.write('made %d types\n' % (i + 1))
keep = []
for c in classes:
    keep.append(c())
if len(sys.argv) > 4:
    for i in range(int(sys.argv[4])):
        watch(keep[i], 'watched object number %04d, under a label long enough to matter' % i)
until = None
if len(sys.argv) > 5:
    until = sys.argv[5]
end = time.time() + seconds
step = 0
while time.time() < end or (until is not None and os.path.exists(until)):
    if until is not None and os.path.exists(until):
        end = time.time() + seconds
    keep.append(classes[step % ntypes]())
    step += 1
    mark('step')
    time.sleep(0.002)
out.write('done\n')
out.flush()
sys.exit(status)

# A leaking type whose holder takes thousands of heap scans to name: its objects sit in
# one dict that WRAPPERS other dicts hold (the naming walk looks up who holds each of
# them: one gc.get_referrers scan of the whole heap each), in a heap of HEAP objects.
# Named in full, the walk would take far longer than its time cap.
#   --watch-type __main__.Leak
# argv: OUTDIR [WRAPPERS [HEAP]]. Waits (deadline 90 s) until a referrers record for
# Leak is out.
import os
import sys
import time


class Leak(object):
    pass


n_wrappers = 3000
n_heap = 300000
if len(sys.argv) > 2:
    n_wrappers = int(sys.argv[2])
if len(sys.argv) > 3:
    n_heap = int(sys.argv[3])

HEAP = [[i] for i in range(n_heap)]


def build():
    # the dict is held only by the wrappers (no module global names it directly)
    shared = {}
    wrappers = [{'shared': shared} for i in range(n_wrappers)]
    # the leaking objects come last: every census that finds them finds the whole heap
    for i in range(3):
        shared[i] = Leak()
    return wrappers


WRAPPERS = build()


def seen(outdir):
    for n in os.listdir(outdir):
        f = open(os.path.join(outdir, n))
        try:
            if f.read().find('"type":"__main__.Leak","sampled":3') >= 0:
                return True
        finally:
            f.close()
    return False


deadline = time.time() + 90
while not seen(sys.argv[1]):
    if time.time() > deadline:
        sys.exit(3)
    time.sleep(0.02)

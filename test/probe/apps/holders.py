# One object per kind of holder; the probe must name each one (--watch-type __main__.Obj).
# argv: OUTDIR. Waits (deadline 20 s) until a referrers record is out.
import os
import sys
import time
import refscope


class Obj(object):
    pass
class Registry(object):
    items = []
class Session(object):
    def __init__(self):
        self.history = []
def make_closure(o):
    def f():
        return o
    return f
o = Obj()
o2 = Obj()
o3 = Obj()
Registry.items.append(o)
s = Session()
s.history.append(o)
fn = make_closure(o2)
Registry.single = o3
REG = {'a': {'b': [o3]}}
T = (o3,)
del o, o2, o3


def seen():
    for n in os.listdir(sys.argv[1]):
        f = open(os.path.join(sys.argv[1], n))
        try:
            if f.read().find('"type":"__main__.Obj"') >= 0:
                return True
        finally:
            f.close()
    return False


deadline = time.time() + 20
while not seen():
    if time.time() > deadline:
        sys.exit(3)
    time.sleep(0.02)

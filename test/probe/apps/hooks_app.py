# The leaking objects are held by app objects whose attribute hooks run app code: a
# class with __getattribute__ and __getattr__, a proxy whose __class__ property lies
# (it says the proxy is a class) and that has only slots, a class whose metaclass has
# __getattribute__, a class whose __dict__ is a property, an old-style class (2.x) with
# __getattr__, a lazy-module proxy in sys.modules. Every hook records who called it.
# The probe must name the holders without running any of them.
#   --watch-type __main__.Obj --watch-type __main__.Item --watch-type __main__.Opaque
# argv: OUTDIR. Waits (deadline 30 s) until a referrers record for each is out. At exit
# (after the probe's final census too) it ends with status 5 and the hooks' calls on
# stderr when any hook ran.
import atexit
import os
import sys
import time

CALLS = []


def called(what):
    f = sys._getframe(2)
    CALLS.append('%s, from %s in %s:%d' % (what, f.f_code.co_name,
                                           os.path.basename(f.f_code.co_filename), f.f_lineno))


class Obj(object):
    pass


class Item(object):
    def __init__(self, peer):
        self.peer = peer          # sizing an Item walks into its peer, a Lying proxy


class Opaque(object):
    pass


class Hooked(object):
    def __init__(self, leak, items):
        self.leak = leak
        self.items = items

    def __getattribute__(self, name):
        called('Hooked.__getattribute__(%r)' % name)
        return object.__getattribute__(self, name)

    def __getattr__(self, name):
        called('Hooked.__getattr__(%r)' % name)
        raise AttributeError(name)


class Lying(object):
    __slots__ = ('target',)

    def __init__(self, target):
        self.target = target

    def _lie(self):
        called('Lying.__class__')
        return type
    __class__ = property(_lie)

    def __getattr__(self, name):
        called('Lying.__getattr__(%r)' % name)
        raise AttributeError(name)


class Meta(type):
    def __getattribute__(cls, name):
        called('Meta.__getattribute__(%r)' % name)
        return type.__getattribute__(cls, name)


class DictProp(object):
    def _d(self):
        called('DictProp.__dict__')
        return {}
    __dict__ = property(_d)


class OldHooked:                  # old-style on Python 2
    def __init__(self, held):
        self.held = held

    def __getattr__(self, name):
        called('OldHooked.__getattr__(%r)' % name)
        raise AttributeError(name)


class LazyModule(object):
    def __getattribute__(self, name):
        called('LazyModule.__getattribute__(%r)' % name)
        return object.__getattribute__(self, name)


h = Hooked(Obj(), [Item(Lying(None))])
proxy = Lying(Obj())
Registry = Meta('Registry', (object,), {})
Registry.single = Obj()
old = OldHooked(Item(Lying(None)))
KEEP = [Item(Lying(None))]
dp = DictProp()
dp.held = Opaque()
sys.modules['lazy_mod'] = LazyModule()


def report():
    if CALLS:
        sys.stderr.write('app hooks ran:\n%s\n' % '\n'.join(CALLS))
        sys.stderr.flush()
        os._exit(5)


atexit.register(report)


def seen(outdir, names):
    text = ''
    for n in os.listdir(outdir):
        f = open(os.path.join(outdir, n))
        try:
            text += f.read()
        finally:
            f.close()
    for name, n in names:
        if text.find('"type":"__main__.%s","sampled":%d' % (name, n)) < 0:
            return False
    return True


deadline = time.time() + 30
while not seen(sys.argv[1], (('Obj', 3), ('Item', 3), ('Opaque', 1))):
    if time.time() > deadline:
        sys.exit(3)
    time.sleep(0.02)

# One object per chain of links between it and the container a person edits; the probe must
# follow each chain up and name the container (--watch-type __main__.Obj and
# __main__.Res: three objects each, all of them sampled).
# argv: OUTDIR. Waits (deadline 20 s) until a referrers record is out.
import functools
import os
import sys
import time
import refscope


class Obj(object):
    def on_event(self):
        return self


class Res(object):
    pass


class Scheduler(object):
    def __init__(self):
        self.pending = {}

    def call_later(self, delay, callback):
        self.pending[len(self.pending) + 1] = (time.time() + delay, callback)


class Bus(object):
    def __init__(self):
        self.listeners = []


class Button(object):
    pass


def tick_for(o):
    def tick():
        return o
    return tick


def wrapped(o):
    def inner():
        return o

    def wrapper():
        return inner()
    return wrapper


def save(res):
    return res


SCHED = Scheduler()
BUS = Bus()
JOBS = []
HOOKS = {}
BUTTON = Button()
HANDLERS = {}

o = Obj()
SCHED.call_later(3600.0, tick_for(o))            # a closure in a (deadline, callback) tuple
o = Obj()
BUS.listeners.append((5, o.on_event))            # a bound method in a (priority, handler) tuple
JOBS.append((7, Obj()))                          # an object in an anonymous tuple
HOOKS['w'] = wrapped(Res())                      # a closure kept by another closure
BUTTON.on_press = tick_for(Res())                # a closure in an instance attribute
HANDLERS['save'] = functools.partial(save, Res())  # an argument of a partial
o = None


def seen():
    for n in os.listdir(sys.argv[1]):
        f = open(os.path.join(sys.argv[1], n))
        try:
            text = f.read()
            if text.find('"type":"__main__.Obj"') >= 0 and text.find('"type":"__main__.Res"') >= 0:
                return True
        finally:
            f.close()
    return False


deadline = time.time() + 20
while not seen():
    if time.time() > deadline:
        sys.exit(3)
    time.sleep(0.02)

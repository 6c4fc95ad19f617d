# ---------------------------------------------------------------- base  (probe/base.py)
# The body's first part: imports, version facts, constants, the interpreter's type
# objects the probe tells apart, the probe's mutable state _S, and _thread_clock().
# Every later module uses these names (the body is compiled as one module: they share
# its globals). It uses nothing of theirs. _type_attr reads a class's attributes without
# running a metaclass's hooks.

import sys
import os
import gc
import time
import itertools
import errno as _errno
try:
    import _thread as _lowthread    # `threading` costs 600 KiB: imported only if the app has it
except ImportError:
    import thread as _lowthread
import _weakref

_RUN_AS_MAIN = (__name__ == '__main__')
# Warnings raised by the probe's own code must not be shown as if from the app's
# __main__ (DeprecationWarning is shown there by default on 3.7+).
__name__ = 'refscope_probe'
_SELF_MODULE = sys.modules.get('__main__')
_G = globals()
_PROBE_FILE = sys._getframe().f_code.co_filename

PROBE_VERSION = '0.1.0'
SCHEMA = 'refscope.records/1'
PY3 = sys.version_info[0] >= 3
PY25 = sys.version_info[:2] == (2, 5)
# Refcounts at or above this are immortal objects (3.12+: 2**32-1 on 64-bit builds,
# 2**30-1 on 32-bit ones): counted, but left out of refcount sums.
IMMORTAL_MIN = 1 << 29
REFERRER_PERIOD = 30.0
# CPU seconds the referrer walks after one census may take: checked inside each walk
# (before every heap scan, between holders), so one type's walk cannot outlast it either.
REFERRER_MAX = 2.0
# ... and wall seconds: on a busy machine a walk's own CPU grows slowly while it holds the
# GIL against the app's thread (2.7: a 2-s CPU walk took 25 s of wall time, the app crawling)
REFERRER_WALL = 3 * REFERRER_MAX
MAX_WATCHES = 1000

try:
    _unicode = unicode
except NameError:
    _unicode = str
try:
    _long = long
except NameError:
    _long = int
_bytes = type(''.encode('ascii'))
try:
    _xrange = xrange
except NameError:
    _xrange = range
try:
    import fcntl as _fcntl
except ImportError:
    _fcntl = None

_grc = sys.getrefcount
_weakref_ref = _weakref.ref


class _OldStyle:                  # old-style on Python 2 only
    def method(self):
        pass


def _gen():
    yield 1


if PY3:
    _InstanceType = None
    _ClassType = None
else:
    _InstanceType = type(_OldStyle())
    _ClassType = type(_OldStyle)
_FrameType = type(sys._getframe())
_MethodType = type(_OldStyle().method)
_GenType = type(_gen())
_FunctionType = type(_gen)
# The interpreter's own attribute descriptors (C): a getset (a class's __dict__) and a
# member (a slot); `type`'s namespace, to read a class's attributes as `type` defines them.
_TYPE_NS = type.__dict__
_GetSetType = type(_TYPE_NS['__dict__'])
_MemberType = type(_TYPE_NS['__basicsize__'])



def _type_attr(t, name, default=None):
    """Attribute `name` of class t read through `type`'s own descriptor, so no hook of
    its metaclass runs (t.__name__ could run the app's __getattribute__); an old-style
    class's (2.x) C attribute; default when t is no class or has no such attribute."""
    tt = type(t)
    try:
        if issubclass(tt, type):
            d = _TYPE_NS.get(name)
            if d is not None:
                return d.__get__(t, tt)
        elif tt is _ClassType:
            return getattr(t, name, default)
    except Exception:
        pass
    return default


# Mutable probe state (a dict of plain values: untracked by the gc on 2.7+).
_S = {
    'pid': os.getpid(), 't0': time.time(), 'stopped': False, 'probe_cpu': 0.0, 'ref_wall': 0.0,
    'censuses': 0, 'interval': 1.0, 'budget': 0.02,
    # census cadence (see "census cadence" below): CPU-second tokens, the last census's
    # cost and time, fast censuses left, the armed mark trigger, the marks' pace
    'tokens': 0.0, 'cad_t0': 0.0, 'spent': 0.0, 'cost': 0.0, 'last_census': 0.0, 'fast': 0,
    'armed': 0, 'armed_at': 0.0, 'mark_total': 0, 'mark_t': 0.0, 'mark_period': 0.0,
    'growing': 0, 'armed_name': None, 'armed_fast': None,
    'err_window': 0.0, 'err_count': 0, 'err_dropped': 0,
    'off_census': 3, 'off_weak': 2, 'off_strong': 3, 'off_sample': 3, 'off_deep': 3,
    'cgen': 0, 'off_locals': 1, 'off_init': 1, 'off_init_old': 1, 'off_ret': 2,
}


def _wall_clock():
    """This thread's CPU seconds where the interpreter can tell, else wall time (see
    _thread_clock below). (The app keeps running between the census's bytecodes: wall time
    would charge the probe for the app's work.)"""
    return time.time()


_thread_clock = None
if hasattr(time, 'thread_time'):
    _thread_clock = time.thread_time
elif hasattr(time, 'clock_gettime') and hasattr(time, 'CLOCK_THREAD_CPUTIME_ID'):
    def _thread_clock():
        return time.clock_gettime(time.CLOCK_THREAD_CPUTIME_ID)
else:
    try:
        # Python 2 on Linux 2.6.26+: this thread's own CPU (RUSAGE_THREAD). The process's
        # clock would charge the probe for the app: 2.x hands the GIL to the app's thread
        # every 100 bytecodes, so a census's wall time is shared with it (a census taken
        # while a 200 000-object app was still building counted 1.4 s and silenced the
        # cadence for the rest of a 23 s run).
        import resource as _resource
        _getrusage = _resource.getrusage
        _getrusage(1)

        def _thread_clock():
            r = _getrusage(1)
            return r[0] + r[1]
    except Exception:
        _thread_clock = None
if _thread_clock is None and not PY3 and hasattr(time, 'clock'):
    # an older kernel: the process's CPU time (glibc clock()). It counts the app's share
    # of a census's time too (the GIL changes hands), but unlike wall time a loaded machine
    # does not charge the probe for waiting for a core.
    _thread_clock = time.clock
if _thread_clock is None:
    _thread_clock = _wall_clock

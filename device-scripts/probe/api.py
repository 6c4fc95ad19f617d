# ---------------------------------------------------------------- app-side API  (probe/api.py)
# What the app sees as `import refscope`: mark(name) and watch(obj, label); and the
# calibration that measures the references the probe's own code paths add.
# Defines: mark, watch, marks_snapshot, _WATCHES, _mark_next, _mark_pairs, _api_module,
#   calibrate.
# Uses: base, writer (emit, probe_error), census (_Calib, _name_of_obj, _tally, _deep_walk),
#   referrers (_sample_rc), sampler (_watch_rc).

_WATCHES = []       # (label, weak ref or object, type name, strong?) per watch()
_mark_next = {}
_mark_pairs = {}


def mark(name='mark'):
    """Count one iteration (frame, request) of the app under `name`."""
    try:
        _mark_next[name]()
    except KeyError:
        _mark_slow(name)
    except TypeError:
        _mark_slow(str(name))
    if _NW['on']:
        try:
            narrow_mark(name)
        except Exception:
            probe_error('narrow mark')


def _mark_slow(name):
    c = itertools.count(0)
    pair = _mark_pairs.setdefault(name, (c, getattr(c, 'next', None) or getattr(c, '__next__')))
    _mark_next[name] = pair[1]
    pair[1]()


def marks_snapshot():
    out = {}
    for name, pair in list(_mark_pairs.items()):
        r = repr(pair[0])
        if not isinstance(name, (str, _unicode)):
            name = str(name)
        out[name] = int(r[r.index('(') + 1:r.rindex(')')])
    return out


def watch(obj, label=None):
    """Follow obj's refcount by identity in every sample (weakly when possible)."""
    try:
        tname = _name_of_obj(obj)
        if label is None:
            label = '%s@%x' % (tname, id(obj))
        if len(_WATCHES) >= MAX_WATCHES:
            emit('event', ['event', 'probe-error', 'detail',
                           'watch: more than %d watched objects; %r ignored' % (MAX_WATCHES, label)])
            return
        if not isinstance(label, (str, _unicode)):
            label = str(label)
        try:
            entry = (label, _weakref_ref(obj), tname, False)
        except TypeError:
            entry = (label, obj, tname, True)
        _WATCHES.append(entry)
    except Exception:
        probe_error('watch')


def _api_module():
    m = type(sys)('refscope')
    m.__doc__ = 'refscope app-side API (only present under refscope_probe.py)'
    m.mark = mark
    m.watch = watch
    m.version = PROBE_VERSION
    m._probe = _SELF_MODULE
    return m


# ---------------------------------------------------------------- calibration

def _calib_locals():
    """References a function's local gains when its frame's f_locals is read (1, or 2
    where reading copies the locals into a dict the frame keeps: up to 3.12)."""
    x = _Calib()
    f = sys._getframe()
    a = _grc(x)
    f.f_locals
    b = _grc(x)
    f = None
    return 1 + (b - a)


class _CalibNew(object):
    def __init__(self, box):
        box.append(_grc(self))


class _CalibOld:                  # old-style on Python 2 only
    def __init__(self, box):
        box.append(_grc(self))


def _calib_trace():
    """What a narrowing window's trace function must allow for (hooks._trace_follow):
    the references a returned value has at a 'return' event beyond its holders (the
    return value, the trace function's argument, 2.x's argument tuple); those a new
    instance has during its Python __init__ beyond its self (type_call's, and 2.x's bound
    method and argument tuple), new-style and old-style."""
    box = []
    x = _CalibNew(box)
    _S['off_init'] = box[0] - _grc(x)
    del box[:]
    y = _CalibOld(box)
    _S['off_init_old'] = box[0] - _grc(y)
    del box[:]
    box.append(x)

    def ret_x():
        return box[0]
    code = getattr(ret_x, '__code__', None) or getattr(ret_x, 'func_code')

    def tr(frame, event, arg):
        if event == 'return' and frame.f_code is code:
            box.append(_grc(arg))
        return tr
    before = _grc(x)
    prev = None
    if hasattr(sys, 'gettrace'):
        prev = sys.gettrace()
    sys.settrace(tr)
    try:
        ret_x()
    finally:
        sys.settrace(prev)
    if len(box) > 1:
        _S['off_ret'] = box[1] - before


def calibrate():
    """Measure the references the probe's own code paths add (docs/protocol.md)."""
    keep = [_Calib()]            # one known reference: this list
    objs = [keep[0]]
    cnt = {}
    rs = {}
    _tally(objs, cnt, rs, _grc, type, _InstanceType, IMMORTAL_MIN, {})
    _S['off_census'] = rs[_Calib] - 1
    objs = None
    # the deep census: a fresh string whose one reference is a list
    holder = ['refscope-calibration-%d' % id(keep)]
    got = _deep_walk([holder], 0, _thread_clock() + 1.0, 0)
    if got is not None and str in got[0]:
        _S['off_deep'] = sum(got[0][str][DEEP_BUCKETS:]) - 1
    holder = got = None
    _S['off_sample'] = _sample_rc(keep, 0)   # keep plays the samples list
    w = keep[0]
    e = ('calib', _weakref_ref(w), '', False)
    w = None
    _S['off_weak'] = _watch_rc(e) - 1
    _S['off_locals'] = _calib_locals()
    try:
        _calib_trace()
    except Exception:
        probe_error('calibrate trace')
    keep2 = [[]]
    e2 = ('calib', keep2[0], '', True)
    _S['off_strong'] = _watch_rc(e2) - 1
    e2 = None

# ---------------------------------------------------------------- hooks  (probe/hooks.py)
# What a narrowing window (probe/narrow.py) sees: the profile hooks that charge reference
# changes to the innermost call (keeps-reference) or see a class's __init__/__new__ run
# (creates), the names of the calls and lines they record, the objects a window follows,
# and, on 3.4+, where tracemalloc says each surviving new instance was allocated.
# Defines: _hook_refs, _trace_new, _trace_follow, _charge, _created, _track, _narrow_own, _tm_guard,
#   _tm_collect, _func_label, _c_label.
# Uses: base, writer (probe_error), narrow (_NW, _NK, _sum_rc, _narrow_close_data, the caps),
#   referrers (_is_class).
# ---- the hooks
# A change in the followed refcounts is charged to what ran since the hook's last event:
# the innermost open call (the stack _NK: a C function, with the Python line that called
# it, or a Python frame at its current line), so a Python function's change lands on its
# line and a C function's on its own name.

def _hook_off():
    if _NW['method'] == 'trace':
        sys.settrace(None)
        _unfollow()
    elif _NW['method'] == 'lines':
        sys.settrace(None)
        _NW['lf'] = None
        for f in _NW['ff'] or ():
            try:
                del f.f_trace
            except Exception:
                pass
        _NW['ff'] = None
    else:
        sys.setprofile(None)


def _hook_failed():
    """A hook's own error: recorded, and the window ends (the app never sees it)."""
    try:
        probe_error('narrow hook')
        _hook_off()
        if _NW['state'] == 2:
            _NW['status'] = 'stopped'
            _NW['reason'] = 'the window failed (a probe error is recorded)'
            _narrow_close_data()
    except Exception:
        pass


def _census_ran():
    """Did a census (in the sampler thread, holding every object for a moment) run since
    the last event, or does it run now? Then what changed is not charged."""
    g = _S['cgen']
    if g != _NW['gen'] or g & 1:
        _NW['gen'] = g
        return True
    return False


def _window_over():
    n = _NW['events'] + 1
    _NW['events'] = n
    if n & 63 == 0 and time.time() > _NW['deadline']:
        _hook_off()
        _narrow_close_data()
        return True
    return False


def _step(frame, event, arg):
    if event == 'call' or event == 'c_call':
        if len(_NK) < NARROW_DEPTH:
            if event == 'call':
                _NK.append([None, frame, 0])
            else:
                _NK.append([arg, frame, 0])
        else:
            _NW['over'] += 1       # too deep: charged to the deepest call followed
    elif _NW['over']:
        _NW['over'] -= 1
    elif _NK:
        _NK.pop()


def _hook_refs(frame, event, arg):
    try:
        return _hook_refs_body(frame, event, arg)
    except Exception:
        _hook_failed()
        return None


def _hook_refs_body(frame, event, arg):
    if _NW['state'] != 2:
        _hook_off()
        return
    if _window_over():
        return
    now = _measure()
    d = now - _NW['rc']
    if _census_ran():
        _NW['rc'] = now
    elif d:
        _NW['rc'] = now
        try:
            _charge(_NW['sites'], frame, event, arg, d)
        except Exception:
            probe_error('narrow site')
    _step(frame, event, arg)


def _trace_lines(frame, event, arg):
    """A container a builtin type grows in (narrow_holder): every line of the window's
    thread is traced, and a change in the container's length is charged to the line that
    ran since the last event (the C calls it made included)."""
    try:
        if _NW['state'] != 2:
            _hook_off()
            return None
        if event == 'call' and _window_over():
            return None
        now = _measure()
        d = now - _NW['rc']
        _NW['rc'] = now
        lf = _NW['lf']
        # (a census elsewhere holds references, never items of the container: no guard)
        if d and lf is not None and lf.f_code.co_filename != _PROBE_FILE:
            _charge_line(lf, _NW['ll'], d, _NW['sites'])
        if event == 'return':
            lf = frame.f_back
            _NW['lf'] = lf
            if lf is not None:
                _NW['ll'] = lf.f_lineno
        else:
            _NW['lf'] = frame
            _NW['ll'] = frame.f_lineno
        return _trace_lines
    except Exception:
        _hook_failed()
        return None


def _trace_new(frame, event, arg):
    try:
        return _trace_new_body(frame, event, arg)
    except Exception:
        _hook_failed()
        return None


def _trace_new_body(frame, event, arg):
    """creates: the global trace function (a 'call' event per Python call). The class's
    __init__ starting (or __new__ returning) is a creation; the first new instance is then
    followed (_trace_follow) through its __init__ and the frames it is handed back to."""
    if _NW['state'] != 2:
        _hook_off()
        return None
    if _window_over():
        return None
    co = frame.f_code
    if co in _NW['codes']:
        try:
            obj = _created_init(frame)
            if obj is not None and not _NW['news']:
                _unfollow()                 # each new instance is followed in turn
                if type(obj) is _InstanceType:
                    _follow(obj, frame, _S['off_init_old'])
                else:
                    _follow(obj, frame, _S['off_init'])
                _NW['rc'] = _grc(obj)       # read as _trace_follow reads it: a local holds it
                return _trace_follow
        except Exception:
            probe_error('narrow init')
    elif _NW['news'] and co in _NW['news']:
        return _trace_new_ret
    return None


def _trace_new_ret(frame, event, arg):
    try:
        return _trace_new_ret_body(frame, event, arg)
    except Exception:
        _hook_failed()
        return None


def _trace_new_ret_body(frame, event, arg):
    if event == 'return' and _NW['state'] == 2:
        try:
            back = frame.f_back
            if _created(arg, back) and back is not None:
                _unfollow()
                _follow(arg, back, 0)
                # read here: the return's own references (calibrated), and this body's
                # argument for _trace_follow's local; __new__'s reference goes to the creator
                _NW['rc'] = _grc(arg) - _S['off_ret']
        except Exception:
            probe_error('narrow new')
    return None


def _follow(obj, frame, handed):
    """Follow obj's refcount in frame (then in the frames it is handed back to): a change
    that is not a local variable of a followed frame is charged to the line that ran.
    handed: references the frame hands back when it returns (__init__: type_call's)."""
    if frame.f_code.co_filename == _PROBE_FILE:
        return
    try:
        _NW['fobj'] = _weakref_ref(obj)
        _NW['fweak'] = 1
    except TypeError:
        _NW['fobj'] = obj
        _NW['fweak'] = 0
    _NW['ff'] = {}
    _follow_frame(frame, obj, 0, handed)
    sys.setprofile(_prof_follow)


def _follow_frame(frame, obj, depth, handed):
    k = 1
    if frame.f_code.co_flags & 1:          # CO_OPTIMIZED: reading f_locals may copy them
        k = _S['off_locals']
    _NW['ff'][id(frame)] = [frame, frame.f_lineno, _locals_of(frame, obj) * k, depth, handed, k]
    frame.f_trace = _trace_follow


def _locals_of(frame, obj):
    n = 0
    for v in frame.f_locals.values():
        if v is obj:
            n += 1
    return n


def _unfollow():
    if _NW['fobj'] is not None:
        sys.setprofile(None)
    for e in (_NW['ff'] or {}).values():
        try:
            del e[0].f_trace         # (2.5 would call a None set here)
        except Exception:
            pass
    _NW['ff'] = None
    _NW['fobj'] = None


def _trace_follow(frame, event, arg):
    # (no wrapper: the returned value's references it sees are the ones calibrate measured)
    try:
        o = _NW['fobj']          # read once: the sampler may drop it when the window is overdue
        if _NW['state'] != 2 or o is None:
            return None
        f = _NW['ff'].get(id(frame))
        if f is None or f[0] is not frame:
            return None
        if _NW['fweak']:
            o = o()
            if o is None:
                _unfollow()              # freed: the next new instance is followed
                return None
    except Exception:
        _hook_failed()
        return None
    try:
        n = _locals_of(frame, o) * f[5]
        now = _grc(o)
        d = now - _NW['rc'] - (n - f[2])
        if _census_ran():
            d = 0
        f[2] = n
        _NW['rc'] = now
        back = None
        if event == 'return':
            handed = f[4]
            gone = n + handed            # what leaves with the frame
            if arg is o:
                d -= _S['off_ret']       # the value returned: handed back, not kept
                handed += 1
                gone += _S['off_ret']
            _NW['rc'] = now - gone
            back = frame.f_back
        if d:
            _charge_line(frame, f[1], d)
        f[1] = frame.f_lineno
        if event != 'return':
            return _trace_follow
        del _NW['ff'][id(frame)]
        if handed and back is not None and f[3] < 2 and back.f_code.co_filename != _PROBE_FILE:
            _follow_frame(back, o, f[3] + 1, 0)
        elif not _NW['ff']:
            _unfollow()
    except Exception:
        _hook_failed()
    return None


def _prof_follow(frame, event, arg):
    try:
        return _prof_follow_body(frame, event, arg)
    except Exception:
        _hook_failed()
        return None


def _prof_follow_body(frame, event, arg):
    """While an instance is followed: a C function called from a followed frame that keeps
    a reference to it is named (the trace function alone would charge its line)."""
    if event != 'c_call' and event != 'c_return' and event != 'c_exception':
        return
    o = _NW['fobj']
    if _NW['state'] != 2 or o is None:
        return
    f = _NW['ff'].get(id(frame))
    if f is None or f[0] is not frame:
        return
    if _NW['fweak']:
        o = o()
        if o is None:
            return
    try:
        now = _grc(o)
        d = now - _NW['rc']
        _NW['rc'] = now
        if d and not _census_ran():
            if event == 'c_call':
                _charge_line(frame, f[1], d)
            else:
                _charge(_NW['ksites'], frame, event, arg, d)
    except Exception:
        probe_error('narrow follow')


def _charge_line(frame, line, d, sites=None):
    if sites is None:
        sites = _NW['ksites']
    key = (frame.f_code, line)
    e = sites.get(key)
    if e is None:
        if len(sites) >= NARROW_SITES:
            return
        label = _func_label(frame)
        e = {'function': label, 'native': False, 'file': frame.f_code.co_filename, 'line': line,
             'caller': label, 'stack': [[frame.f_code.co_filename, line, label]] + _stack_of(frame.f_back)[:2],
             'calls': 0, 'refs': 0, 'kind': 'keeps-reference'}
        sites[key] = e
    e['calls'] += 1
    e['refs'] += d


# ---- what the hooks record

def _frame_site(f):
    co = f.f_code
    return (co.co_filename, f.f_lineno, _func_label(f))


def _stack_of(f):
    out = []
    while f is not None and len(out) < 3 and f.f_code.co_filename != _PROBE_FILE:
        out.append(list(_frame_site(f)))
        f = f.f_back
    return out


def _func_label(f):
    """A Python function's name as a person reads it: 'Scene.draw' (3.11's qualname, or
    the class of its self/cls argument that defines it), else its plain name."""
    co = f.f_code
    q = getattr(co, 'co_qualname', None)
    if q:
        return q
    name = co.co_name
    if co.co_argcount and co.co_varnames[0] in ('self', 'cls'):
        try:
            x = f.f_locals.get(co.co_varnames[0])
            k = x
            if not _is_class(x):
                k = type(x)
                if k is _InstanceType:
                    k = x.__class__
            mro = _type_attr(k, '__mro__') or (k,)
            for c in mro:
                d = _type_attr(c, '__dict__') or {}
                g = d.get(name)
                g = getattr(g, '__func__', g)
                if (getattr(g, '__code__', None) or getattr(g, 'func_code', None)) is co:
                    return '%s.%s' % (_type_attr(c, '__name__', '?'), name)
            return '%s.%s' % (_type_attr(k, '__name__', '?'), name)
        except Exception:
            pass
    return name


def _c_label(fn):
    """A C function's name: 'leakyiter.total', 'list.append', 'dict.setdefault'."""
    name = getattr(fn, '__name__', None) or '?'
    owner = None
    oc = getattr(fn, '__objclass__', None)
    s = getattr(fn, '__self__', None)
    if oc is not None:
        owner = _type_attr(oc, '__name__')
    elif s is None or type(s) is type(sys):
        owner = getattr(fn, '__module__', None)
        if owner in ('builtins', '__builtin__'):
            owner = None
    elif _is_class(s):
        owner = _type_attr(s, '__name__')
    else:
        k = type(s)
        if k is _InstanceType:
            k = s.__class__
        owner = _type_attr(k, '__name__')
    if owner and isinstance(owner, (str, _unicode)):
        return '%s.%s' % (owner, name)
    return str(name)


def _charge(sites, frame, event, arg, d):
    """Charge d references to what ran since the last event (see the hooks)."""
    if _NK:
        top = _NK[-1]
        fn = top[0]
        where = top[1]
    elif event == 'call':
        fn = None
        where = frame.f_back
    elif event == 'c_return' or event == 'c_exception':
        fn = arg
        where = frame
    else:
        fn = None
        where = frame
        top = None
    if where is None or where.f_code.co_filename == _PROBE_FILE:
        return
    if fn is not None:
        key = (getattr(fn, '__name__', None), type(getattr(fn, '__self__', None)), where.f_code, where.f_lineno)
    else:
        key = (where.f_code, where.f_lineno)
    e = sites.get(key)
    if e is None:
        if len(sites) >= NARROW_SITES:
            return
        site = _frame_site(where)
        if fn is not None:
            e = {'function': _c_label(fn), 'native': True}
        else:
            e = {'function': site[2], 'native': False}
        e['file'] = site[0]
        e['line'] = site[1]
        e['caller'] = site[2]
        e['stack'] = _stack_of(where)
        e['calls'] = 0
        e['refs'] = 0
        e['kind'] = 'keeps-reference'
        sites[key] = e
    if _NK and fn is not None:
        if not top[2]:
            top[2] = 1
            e['calls'] += 1          # each C call once, however many pieces it ran in
    else:
        e['calls'] += 1
    e['refs'] += d


def _created_init(frame):
    co = frame.f_code
    if not co.co_argcount:
        return
    name = co.co_varnames[0]
    obj = frame.f_locals.get(name)
    if obj is None:
        return
    codes = _NW['codes']
    f = frame.f_back
    while f is not None and f.f_code in codes:
        # an __init__ called by another one: the outermost one for this object counts
        if f.f_code.co_argcount and f.f_locals.get(f.f_code.co_varnames[0]) is obj:
            return
        f = f.f_back
    if _created(obj, frame.f_back, True):
        return obj
    return None


def _created(obj, back, from_init=False):
    t = type(obj)
    if t is _InstanceType:
        t = obj.__class__
    if t is not _NW['cls']:
        return
    news = _NW['news']
    if news and from_init:
        return                       # counted when its __new__ returned
    skip = _NW['codes']
    if news:
        skip = news
    f = back
    while f is not None and f.f_code in skip:
        if news:
            return                   # a __new__ called by the outer one, which counts it
        f = f.f_back
    if f is None or f.f_code.co_filename == _PROBE_FILE:
        return
    sites = _NW['sites']
    key = (f.f_code, f.f_lineno)
    e = sites.get(key)
    if e is None:
        if len(sites) >= NARROW_SITES:
            return
        site = _frame_site(f)
        e = {'function': site[2], 'native': False, 'file': site[0], 'line': site[1],
             'caller': site[2], 'stack': _stack_of(f), 'created': 0, 'track': []}
        sites[key] = e
    e['created'] += 1
    _track(e, obj)
    return True


def _track(e, obj):
    if _NW['tracked'] >= NARROW_TRACK:
        return
    try:
        r = _weakref_ref(obj)
        _NW['wrefs'] += 1
    except TypeError:
        r = id(obj)                  # no weak references to it: checked by id in a census
    _NW['tracked'] += 1
    e['track'].append(r)


def _narrow_own():
    """The window's own containers (a referrers pass leaves them out)."""
    out = [_NW, _NW['done'], _NW['last'], _NW['queue'], _NW['pops'], _NW['cbs'], _NW['passed'], _NK]
    for e in _NK:
        out.append(e)
    out.append(_NHOLD)
    for x in _NHOLD.values():
        out.append(x)                # (the tuples; the app's containers in them are the app's)
    for k in ('samples', 'sites', 'ksites', 'codes', 'news'):
        if _NW[k] is not None:
            out.append(_NW[k])
    for e in list((_NW['sites'] or {}).values()) + list((_NW['ksites'] or {}).values()):
        out.append(e)
        if 'track' in e:
            out.append(e['track'])
    return out


# ---- tracemalloc windows (3.4+): where each new instance surviving the window was allocated

def _tm_guard():
    tm = _NW['tm']
    if tm is None:
        return
    used = tm.get_tracemalloc_memory()
    if used > _NW['peak']:
        _NW['peak'] = used
    if used > NARROW_KIB * 1024:
        _NW['status'] = 'stopped'
        _NW['reason'] = 'tracemalloc\'s own memory reached %d KiB; the window was cut short' % NARROW_KIB
        _narrow_close()


def _tm_new(tm, cls, untracked):
    """The live objects of cls that tracemalloc saw allocated (in the window): from the
    collector's list, or, for a type it does not track (a dict of strings, a str), among
    what the tracked objects hold (each one once; the scan stops after NARROW_SCAN s)."""
    objs = gc.get_objects()
    got = tm.get_object_traceback
    if not untracked:
        for o in objs:
            if type(o) is cls:
                tb = got(o)
                if tb is not None and len(tb):
                    yield o
        return
    seen = {}
    end = _thread_clock() + NARROW_SCAN
    getr = gc.get_referents
    i = 0
    for c in objs:
        i += 1
        if i & 255 == 0 and _thread_clock() > end:
            _NW['reason'] = 'the search for new %s objects stopped after %.1f s' % (_NW['type'], NARROW_SCAN)
            break
        for r in getr(c):
            if type(r) is cls and id(r) not in seen:
                tb = got(r)
                if tb is not None and len(tb):
                    seen[id(r)] = 1
                    yield r


def _tm_collect():
    tm = _NW['tm']
    if tm is None:
        return
    try:
        used = tm.get_tracemalloc_memory()
        if used > _NW['peak']:
            _NW['peak'] = used
        cls = _NW['cls']
        sites = _NW['sites']
        newest_last = sys.version_info[:2] >= (3, 7)
        for o in _tm_new(tm, cls, _NW['untracked']):
            tb = tm.get_object_traceback(o)
            frames = list(tb)
            if newest_last:
                frames.reverse()
            key = (frames[0].filename, frames[0].lineno)
            if key[0] == _PROBE_FILE:
                continue
            e = sites.get(key)
            if e is None:
                if len(sites) >= NARROW_SITES:
                    continue
                e = {'function': None, 'native': False, 'file': key[0], 'line': key[1],
                     'caller': None, 'created': 0, 'track': [],
                     'stack': [[fr.filename, fr.lineno, None] for fr in frames[:3]]}
                sites[key] = e
            e['created'] += 1
            _track(e, o)
        o = None
    finally:
        _NW['tm'] = None
        tm.stop()

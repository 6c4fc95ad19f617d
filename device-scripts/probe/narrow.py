# ---------------------------------------------------------------- narrow  (probe/narrow.py)
# The narrowing window (issue 15): once the census has a suspect, one short window in the
# app's own thread (opened at its next refscope.mark(), closed after NARROW_MARKS marks or
# NARROW_SECONDS) finds the call that leaks it, then a later census checks what was freed:
# - keeps-reference (count flat, references climb): a profile hook reads the summed
#   refcount of a few live objects of the type around every call and return, and charges
#   each change to the innermost call that made it (a C function, with the Python line
#   that called it, or a Python function's own code);
# - creates (a class's count grows): a profile hook sees the class's Python __init__ or
#   __new__ run and records the line that created each instance (1-3 frames), then which
#   of them are still alive later; with no Python __init__ to see, on 3.4+, tracemalloc
#   for the window only, asking each surviving new instance where it was allocated.
# Nothing runs outside the window; the window's memory is bounded by construction (at most
# NARROW_SITES sites, NARROW_TRACK objects followed, a call stack of NARROW_DEPTH) and, for
# tracemalloc, by its own measure (NARROW_KIB). One `narrow` record per window.
# Defines: _NW, narrow_mark, narrow_census, narrow_final, narrow_finish, narrow_pause,
#   narrow_resume, _sum_rc, the NARROW_ caps.
# Uses: base, writer (emit, probe_error), census (_names), hooks (the hooks, _tm_collect).

NARROW_MARKS = 8          # marks a window stays open
NARROW_SECONDS = 2.0      # wall seconds a window stays open at most
NARROW_CHECK_MARKS = 32   # marks after the window before the check of what was freed
NARROW_CHECK_SECONDS = 5.0  # ... or these seconds (an app without marks)
NARROW_WAIT_SECONDS = 5.0   # an armed window that no mark opens is given up after this
NARROW_SAMPLES = 8        # objects whose refcounts a keeps-reference window follows
NARROW_SITES = 32         # distinct sites a window records
NARROW_HOLDERS = 4        # the app's containers kept for builtin types' windows (strong references)
NARROW_TRACK = 64         # created objects a window follows (weakly where it can)
NARROW_DEPTH = 4000       # calls deep the hook keeps its stack (deeper ones are not charged)
NARROW_KIB = 256          # the window's own memory (tracemalloc's, measured)
NARROW_SCAN = 1.0         # CPU seconds the search for an untracked type's new objects may take
NARROW_MAX_WINDOWS = 8    # windows in one run
NARROW_AGAIN_SECONDS = 600.0  # --narrow-again: a type's next window, this long after its last
NARROW_SOAK_SECONDS = 10800.0  # a soak (--narrow-soak): the same, 3 hours after (a leak that changes)

# state: 0 idle, 1 armed (waits for a mark), 2 open, 3 closed (waits for the check)
_NW = {'on': 0, 'state': 0, 'off': False, 'again': False, 'done': {}, 'windows': 0,
       'type': None, 'kind': None, 'cls': None, 'method': None, 'mark': None, 'armed_t': 0.0,
       'marks': 0, 't0': 0.0, 'c0': 0.0, 'seconds': 0.0, 'cpu': 0.0, 'deadline': 0.0,
       'population': 0, 'samples': None, 'rc0': 0, 'rc1': 0, 'sites': None, 'events': 0,
       'codes': None, 'news': None, 'tracked': None, 'wrefs': 0, 'end_marks': 0, 'end_t': 0.0,
       'status': None, 'reason': None, 'peak': 0, 'tm': None, 'over': 0, 'last': {}, 'queue': [], 'app': 0, 'tid': None, 'rc': 0,
       'fobj': None, 'fweak': 0, 'ff': None, 'ksites': None, 'pops': {}, 'pending': None, 'cbs': [], 'gen': 0,
       'untracked': 0, 'untracked_seen': {}, 'passed': {}}
# the containers found holding most of a type's samples (name -> (container, sentence)), and
# under 'now' the one a window watches: apart from _NW, so that the deep census, which leaves
# the probe's own state out of its walk, still walks the app's containers
_NHOLD = {}
_NK = []         # the window's open calls: [C function or None, frame, charged yet]


def _narrow_reset():
    for k in ('type', 'kind', 'cls', 'method', 'mark', 'samples', 'sites', 'codes', 'news',
              'tracked', 'status', 'reason', 'tm', 'fobj', 'ff', 'ksites', 'pending'):
        _NW[k] = None
    _NW['wrefs'] = 0
    _NW['over'] = 0
    _NW['untracked'] = 0
    _NHOLD.pop('now', None)
    _NW['events'] = 0
    _NW['peak'] = 0
    del _NK[:]


# ---- arming: the census picks the suspect

def narrow_census(objs, st):
    """After a census (objs: its gc.get_objects() list): the check of a closed window, then
    a new window for the first suspect not narrowed yet (st: the census's _STATE)."""
    if _NW['off'] or os.getpid() != _S['pid']:
        return
    state = _NW['state']
    now = time.time()
    if state == 2 and now > _NW['deadline'] + NARROW_SECONDS and _NW['fobj'] is not None:
        # the app's thread has run nothing the window sees since its end (idle in C): the
        # instance it follows is not held past it (its hooks see None and stop following)
        _NW['fobj'] = None
    # the suspects this census named, queued: the window may be busy with another one
    q = _NW['queue']
    for name in st['order']:
        if name in st['watch_types'] or len(q) >= NARROW_SITES:
            continue
        if name in _NW['done'] and not (_NW['again'] and now - _NW['last'].get(name, now) > _NW['again']):
            continue
        builtin = '.' not in name
        if not builtin:
            _NW['app'] = 1
        _narrow_queue(q, builtin, name, name in st['refs_only'])
    for name in _DEEP_STATE['order']:
        # what the deep census sees grow: types the collector does not track (builtins)
        if name not in _NW['done'] and len(q) < NARROW_SITES and name not in st['watch_types']:
            _narrow_queue(q, True, name, False, 1)
    for name in list(_NW['done'].keys()):
        # a window that saw its objects freed (the app's warm-up, a leak that starts
        # later): one more when the type still grows at each of the last 3 censuses
        h = st['hist'].get(name)
        if _NW['done'][name] == 'retry' and h is not None and h[2] >= 3 and h[3] & 7 == 7 \
                and h[0] > _NW['pops'].get(name, 0) and now - _NW['last'].get(name, now) > 1.0:
            _NW['done'][name] = 'retried'
            _narrow_queue(q, '.' not in name, name, False, _NW['untracked_seen'].get(name, 0))
    if state == 3:
        if _NW['end_marks'] >= NARROW_CHECK_MARKS or now - _NW['end_t'] >= NARROW_CHECK_SECONDS:
            _narrow_check(objs)
        return
    if state == 1:
        if not _mark_pairs and _NW['pending'] is None:
            # an app that does not mark: the window opens in its main thread
            _NW['pending'] = _narrow_pending() or 0
        if now - _NW['armed_t'] > NARROW_WAIT_SECONDS:
            _NW['status'] = 'no-site'
            _NW['reason'] = ('no refscope.mark() came within %d s, and the main thread could not be '
                             'reached (no ctypes, or it is blocked)' % NARROW_WAIT_SECONDS)
            _narrow_emit(0)
        return
    if state == 2:
        if now - _NW['t0'] > 3 * NARROW_SECONDS:
            # the thread that opened it stopped calling anything: give it up (its hook
            # takes itself off at its next event)
            _NW['status'] = 'stopped'
            _NW['reason'] = 'the window\'s thread went quiet; closed by the census'
            _narrow_close_data()
            _narrow_emit(0)
        return
    if _NW['windows'] >= NARROW_MAX_WINDOWS:
        return
    q.sort(key=_first)     # the app's own types before builtins, in the order they came
    for e in list(q):
        if e[0]:
            # a builtin type: only one that grows on its own (no app type grows), and still
            # grows two censuses after it was first named (not the startup's warm-up)
            h = (e[4] and _DEEP_STATE or st)['hist'].get(e[1])
            age = _S['censuses'] - e[3]
            if _NW['app'] or h is None or age > 40:
                q.remove(e)
                _NHOLD.pop(e[1], None)       # the app's container is not kept past its use
                continue
            if age < 2 or not (h[3] & 3 == 3 or h[5] & 3 == 3):
                continue
            if e[1] not in _NHOLD and e[1] not in _NW['passed'] and age < 30:
                continue             # the referrers pass that may find its container is to come
        q.remove(e)
        if _narrow_arm(e[1], e[2], objs, st, e[4]):
            return


def _narrow_queue(q, builtin, name, refs_only, untracked=0):
    for e in q:
        if e[1] == name:
            return
    q.append((builtin, name, refs_only, _S['censuses'], untracked))


def _first(e):
    return e[0]


def _narrow_pending():
    """Open the window in the main thread at its next bytecode, through the interpreter's
    pending calls (ctypes; imported only here: an app that does not mark). False when
    ctypes is missing."""
    try:
        ctypes = probe_import('ctypes')
        proto = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)

        def opened(unused):
            try:
                if _NW['state'] == 1 and os.getpid() == _S['pid']:
                    _narrow_open(None)
            except Exception:
                pass
            return 0                 # never an error: the main thread would raise it
        cb = proto(opened)
        add = ctypes.pythonapi.Py_AddPendingCall
        add.argtypes = [proto, ctypes.c_void_p]
        add.restype = ctypes.c_int
        _NW['cbs'].append(cb)        # kept for good: the interpreter may call it later
        if add(cb, None) != 0:
            return None
        return cb
    except Exception:
        return None


def narrow_holder(name, conts):
    """After a referrers pass over type `name`: the list or dict holding most of its
    samples, kept for a window on a builtin type (it watches that container grow)."""
    _NW['passed'][name] = 1
    if '.' in name or name in _NW['done']:
        return     # an app's class is narrowed by its creating calls: its holders are not kept
    best = None
    for e in conts.values():
        if best is None or e[0] > best[0]:
            best = e
    if best is not None and best[0] >= 2 and (name in _NHOLD or len(_NHOLD) < NARROW_HOLDERS):
        _NHOLD[name] = (best[1], best[2])


def _narrow_class(name):
    for t in list(_names.keys()):
        if _names.get(t) == name:
            return t
    b = sys.modules.get('builtins') or sys.modules.get('__builtin__')
    t = getattr(b, name, None)           # a builtin the collector does not track (str)
    if isinstance(t, type):
        return t
    return None


def _narrow_arm(name, refs_only, objs, st, untracked=0):
    cls = _narrow_class(name)
    if cls is None:
        return False
    _narrow_reset()
    _NW['type'] = name
    _NW['cls'] = cls
    _NW['sites'] = {}
    _NW['ksites'] = {}
    _NW['tracked'] = 0
    if untracked:
        st = _DEEP_STATE
        _NW['untracked'] = 1
        _NW['untracked_seen'][name] = 1
        refs_only = False
    h = st['hist'].get(name)
    _NW['population'] = (h and h[0]) or 0
    _NW['done'][name] = 1
    hold = None
    if name != 'now':
        hold = _NHOLD.pop(name, None)
    if hold is not None and '.' not in name and not refs_only:
        # a builtin type that grows in a container the referrers pass found: the window
        # watches the container's length, charged to the line that grew it
        _NW['kind'] = 'keeps-reference'
        _NW['method'] = 'lines'
        _NHOLD['now'] = hold
    elif refs_only:
        _NW['kind'] = 'keeps-reference'
        _NW['method'] = 'profile'
        _NW['samples'] = _narrow_samples(objs, cls)
        if not _NW['samples']:
            del _NW['done'][name]
            return False
    else:
        _NW['kind'] = 'creates'
        codes, news = _init_codes(cls)
        if codes or news:
            _NW['method'] = 'trace'
            _NW['codes'] = codes
            _NW['news'] = news
        elif _tracemalloc() is not None:
            _NW['method'] = 'tracemalloc'
        else:
            _NW['method'] = 'profile'
            _NW['status'] = 'no-site'
            if '.' in name:
                _NW['reason'] = ('%s is created without Python code the trace function sees (no '
                                 'Python __init__ or __new__), and this Python has no tracemalloc '
                                 '(3.4+) to say where it is allocated' % name)
            else:
                _NW['reason'] = ('no list or dict was found holding several %s objects to watch grow, '
                                 'and this Python has no tracemalloc (3.4+) to say where they are '
                                 'allocated' % name)
            _NW['windows'] += 1
            _narrow_emit(0)
            return True
    prof = getattr(sys, 'getprofile', None)
    if _NW['method'] in ('trace', 'lines'):
        prof = getattr(sys, 'gettrace', None)
    if prof is not None and prof() is not None and _NW['method'] != 'tracemalloc':
        _NW['status'] = 'no-site'
        _NW['reason'] = 'the app runs its own %s function: left alone' % _NW['method']
        _NW['windows'] += 1
        _narrow_emit(0)
        return True
    _NW['windows'] += 1
    _NW['armed_t'] = time.time()
    _NW['state'] = 1
    _NW['on'] = 1
    return True


def _narrow_samples(objs, cls):
    """Up to NARROW_SAMPLES live objects of cls with the highest refcounts (those a
    reference leak has been feeding), immortal ones left out."""
    best = []
    grc = _grc
    for o in objs:
        t = type(o)
        if t is _InstanceType:
            t = o.__class__
        if t is cls:
            r = grc(o)
            if r < IMMORTAL_MIN:
                best.append((r, id(o), o))
                if len(best) > 4 * NARROW_SAMPLES:
                    best.sort()
                    del best[:-NARROW_SAMPLES]
    best.sort()
    out = [e[2] for e in best[-NARROW_SAMPLES:]]
    del best[:]
    return out


def _init_codes(cls):
    """The code objects of the Python __init__ and __new__ cls runs (its own or inherited)."""
    codes = {}
    news = {}
    seen = 0
    mro = _type_attr(cls, '__mro__')
    if mro is None:
        mro = []
        todo = [cls]
        while todo and len(mro) < 64:
            c = todo.pop(0)
            mro.append(c)
            todo.extend(list(_type_attr(c, '__bases__', ()) or ()))
    for c in mro:
        d = _type_attr(c, '__dict__')
        if d is None:
            continue
        for key, into in (('__init__', codes), ('__new__', news)):
            f = d.get(key)
            if f is None:
                continue
            f = getattr(f, '__func__', f)     # staticmethod (__new__)
            co = getattr(f, '__code__', None) or getattr(f, 'func_code', None)
            if co is None and key == '__new__':
                try:
                    f = f.__get__(None, c)    # 2.5's staticmethod has no __func__
                    co = getattr(f, '__code__', None) or getattr(f, 'func_code', None)
                except Exception:
                    pass
            if co is not None:
                into[co] = 1
        seen += 1
        if seen > 64:
            break
    return codes, news


def _tracemalloc():
    if sys.version_info[:2] < (3, 4):
        return None
    try:
        return probe_import('tracemalloc')
    except Exception:
        return None


# ---- opening and closing, in the app's thread, at its marks

def narrow_mark(name):
    """Called by refscope.mark() while a window is armed, open or waits for its check."""
    if os.getpid() != _S['pid']:
        _NW['on'] = 0
        return
    state = _NW['state']
    if state == 1:
        _narrow_open(name)
    elif state == 2:
        if name == _NW['mark']:
            _NW['marks'] += 1
        if _NW['marks'] >= NARROW_MARKS or time.time() > _NW['deadline']:
            _narrow_close()
        elif _NW['method'] == 'tracemalloc':
            _tm_guard()
    elif state == 3:
        if name == _NW['mark']:
            _NW['end_marks'] += 1
    else:
        _NW['on'] = 0


def _narrow_open(name):
    _NW['mark'] = name
    _NW['marks'] = 0
    _NW['t0'] = time.time()
    _NW['deadline'] = _NW['t0'] + NARROW_SECONDS
    _NW['c0'] = _thread_clock()
    _NW['tid'] = _lowthread.get_ident()
    _NW['gen'] = _S['cgen']      # censuses before the window are none of its business
    _NW['state'] = 2
    try:
        if _NW['method'] == 'tracemalloc':
            tm = _tracemalloc()
            if tm.is_tracing():
                _NW['status'] = 'no-site'
                _NW['reason'] = 'the app traces its own allocations (tracemalloc): left alone'
                _narrow_emit(0)
                return
            tm.start(3)
            _NW['tm'] = tm
        elif _NW['method'] == 'lines':
            _NW['rc0'] = _NW['rc'] = _measure()
            _NW['lf'] = None
            # the frames running now are traced too (as pdb does), from their next line
            ff = []
            f = sys._getframe()
            while f is not None:
                if f.f_code.co_filename != _PROBE_FILE:
                    f.f_trace = _trace_lines
                    ff.append(f)
                f = f.f_back
            _NW['ff'] = ff
            sys.settrace(_trace_lines)
        elif _NW['kind'] == 'keeps-reference':
            _NW['rc0'] = _NW['rc'] = _measure()
            sys.setprofile(_hook_refs)
        else:
            sys.settrace(_trace_new)
    except Exception:
        probe_error('narrow open')
        _narrow_abort()


def _narrow_abort():
    try:
        _hook_off()
    except Exception:
        pass
    tm = _NW['tm']
    if tm is not None:
        try:
            tm.stop()
        except Exception:
            pass
    _NW['status'] = 'stopped'
    _NW['reason'] = 'the window failed (a probe error is recorded)'
    _narrow_emit(0)


def _narrow_close():
    """End the window (in the thread that opened it): hook off, what it saw kept."""
    if _NW['method'] != 'tracemalloc':
        _hook_off()
    try:
        _narrow_close_data()
    except Exception:
        probe_error('narrow close')
        _narrow_abort()


def _narrow_close_data():
    _NW['seconds'] = time.time() - _NW['t0']
    _NW['cpu'] = max(0.0, _thread_clock() - _NW['c0'])
    if _NW['state'] != 2:
        return
    _NW['state'] = 3
    if _NW['kind'] == 'keeps-reference':
        _NW['rc1'] = _measure()
    elif _NW['method'] == 'tracemalloc':
        _tm_collect()
    _NW['end_marks'] = 0
    _NW['end_t'] = time.time()
    del _NK[:]


def narrow_pause():
    """Before the probe's own work in the app's thread (a census at a mark): the hook off,
    so the window does not see the probe's calls; True when it was on."""
    if _NW['state'] == 2 and _NW['method'] != 'tracemalloc' and _NW['tid'] == _lowthread.get_ident():
        sys.settrace(None)
        sys.setprofile(None)
        return True
    return False


def narrow_resume():
    if _NW['state'] == 2:
        if _NW['method'] == 'trace':
            sys.settrace(_trace_new)
            if _NW['fobj'] is not None:
                sys.setprofile(_prof_follow)
        elif _NW['method'] == 'lines':
            sys.settrace(_trace_lines)
        else:
            sys.setprofile(_hook_refs)


def _measure():
    """keeps-reference: the followed samples' summed refcounts, or the watched container's
    length."""
    h = _NHOLD.get('now')
    if h is not None:
        return len(h[0])
    return _sum_rc(_NW['samples'])


def _sum_rc(objs):
    return sum(map(_grc, objs))


# ---- the check, some marks after the window, and the record

def _narrow_check(objs):
    released = 0
    if _NW['kind'] == 'keeps-reference':
        released = max(0, _NW['rc1'] - _measure())
    else:
        ids = {}
        for e in _NW['sites'].values():
            for r in e['track']:
                if type(r) is not _weakref_ref:
                    ids[r] = 0
        if ids:
            cls = _NW['cls']
            for o in objs:
                if id(o) in ids and type(o) is cls:
                    ids[id(o)] = 1
        for e in _NW['sites'].values():
            alive = 0
            for r in e['track']:
                if type(r) is _weakref_ref:
                    if r() is not None:
                        alive += 1
                elif ids.get(r):
                    alive += 1
            n = len(e['track'])
            freed = n - alive
            if n and n < e['created']:
                freed = int(round(freed * e['created'] / float(n)))
            e['freed'] = freed
            e['alive'] = e['created'] - freed
    _narrow_emit(released)


def _key2(x):
    return x[:2]


def _narrow_emit(released):
    try:
        out = []
        kept = 0
        leaky = 0
        for e in (_NW['sites'] or {}).values():
            if _NW['kind'] == 'keeps-reference':
                if e['refs'] <= 0:
                    continue
                kept += e['refs']
                out.append((0, -e['refs'], e))
            else:
                e['calls'] = e['created']
                e['refs'] = 0
                e['kind'] = 'creates'
                if 'alive' not in e:
                    e['alive'] = e['created']
                    e['freed'] = 0
                kept += e['alive']
                if 2 * e['alive'] >= e['created']:
                    leaky = 1            # a site whose instances mostly outlive the check
                out.append((0, -e['alive'] - e['created'], e))
        for e in (_NW['ksites'] or {}).values():
            if e['refs'] > 0:
                out.append((1, -e['refs'], e))      # where a new instance's __init__ kept it
        out.sort(key=_key2)
        sites = []
        for x in out[:NARROW_SITES]:
            e = x[-1]
            sites.append({'kind': e['kind'], 'function': e['function'], 'native': e['native'],
                          'file': e['file'], 'line': e['line'], 'caller': e['caller'],
                          'calls': e['calls'], 'refs': e['refs'], 'created': e.get('created', 0),
                          'alive': e.get('alive', 0), 'freed': e.get('freed', 0),
                          'stack': e['stack']})
        status = _NW['status']
        if status is None:
            if kept > 0:
                status = 'found'
            else:
                status = 'nothing'
        samples = _NW['samples'] or ()
        peak = _NW['peak'] // 1024
        if _NW['method'] != 'tracemalloc':
            # what the window holds, bounded by its caps: its sites and stack, followed objects
            peak = (len(_NW['sites'] or ()) * 1024 + (_NW['tracked'] or 0) * 64 +
                    NARROW_DEPTH * 16 + 1023) // 1024
        emit('narrow', ['type', _NW['type'], 'kind', _NW['kind'], 'status', status,
                        'reason', _NW['reason'], 'method', _NW['method'], 'mark', _NW['mark'],
                        'marks', _NW['marks'], 'seconds', round(_NW['seconds'], 4),
                        'cpu', round(_NW['cpu'], 4), 'peakKiB', peak,
                        'population', _NW['population'], 'samples', len(samples),
                        'checkMarks', _NW['end_marks'], 'released', released, 'sites', sites,
                        'holder', 'now' in _NHOLD and _NHOLD['now'][1] or None])
        name = _NW['type']
        if _NW['done'].get(name) != 'retried' and (status == 'nothing' or (
                _NW['kind'] == 'creates' and not leaky)):
            status_done = 'retry'
            _NW['pops'][name] = _NW['population']
        else:
            status_done = status
        _NW['done'][name] = status_done
        _NW['last'][_NW['type']] = time.time()
    finally:
        _NW['state'] = 0
        _NW['on'] = 0
        _narrow_reset()


def narrow_finish():
    """At the app's end, in the main thread: a window still open there is closed."""
    if _NW['state'] == 2:
        if _NW['tid'] == _lowthread.get_ident():
            try:
                _hook_off()
            except Exception:
                pass
        if _NW['status'] is None:
            _NW['status'] = 'stopped'
            _NW['reason'] = 'the run ended while the window was open'
        _narrow_close_data()


def narrow_final(objs):
    """In the final census: what is left is recorded now."""
    state = _NW['state']
    if state == 1:
        _NW['status'] = 'no-site'
        _NW['reason'] = 'the run ended before a mark opened the window'
        _narrow_emit(0)
    elif state == 2:
        _NW['status'] = 'stopped'
        _NW['reason'] = 'the run ended while the window was open'
        _narrow_close_data()
        _narrow_check(objs)
    elif state == 3:
        _narrow_check(objs)

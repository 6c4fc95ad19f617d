# ---------------------------------------------------------------- referrers  (probe/referrers.py)
# Who holds the sampled objects: gc.get_referrers, walked up to a root the probe can
# name (a module global, an attribute, a class attribute), as sentences with counts.
# Defines: referrers_pass, _describe, _root, _name, _parents, _short, _sample_rc.
# Uses: base, writer (emit, probe_error), census (_names, _STATE), sizes (sample_sizes),
#   api (_WATCHES).

_CellType = type((lambda x: (lambda: x))(0).__closure__[0]) if hasattr(_FunctionType, '__closure__') \
    else type((lambda x: (lambda: x))(0).func_closure[0])


def _short(o):
    t = type(o)
    if t is _InstanceType:
        t = o.__class__
    try:
        return str(t.__name__)
    except Exception:
        return '?'


def _key_text(k):
    if isinstance(k, (str, _unicode)):
        return "['%s']" % k
    if isinstance(k, (int, _long)) and not isinstance(k, bool):
        return '[%d]' % k
    return '[...]'


def _sample_rc(samples, i):
    x = samples[i]
    return _grc(x)




def referrers_pass(name, objs_of, pending):
    t0 = _thread_clock()
    samples = list(objs_of)
    del objs_of[:]
    n = len(samples)
    rcs = []
    for i in _xrange(n):
        rc = _sample_rc(samples, i) - _S['off_sample']
        rc -= _strong_watch_count(samples[i])
        rcs.append(rc)
    ctx = {'skip': {}, 'hold': [], 'memo': {}, 'busy': {}, 'mods': None}
    skip = ctx['skip']
    skip.update(pending)
    skip[id(samples)] = 1
    skip[id(rcs)] = 1
    skip[id(ctx['hold'])] = 1
    skip[id(_WATCHES)] = 1
    skip[id(_names)] = 1
    refs = _filtered(gc.get_referrers(*samples), skip, samples)
    skip[id(refs)] = 1
    ctx['hold'].append(refs)
    found = [0] * n
    holders = {}
    for r in refs:
        try:
            sub = gc.get_referents(r)
        except Exception:
            continue
        for i in _xrange(n):
            x = samples[i]
            k = 0
            for y in sub:
                if y is x:
                    k += 1
            if k:
                found[i] += k
                try:
                    s = _describe(x, r, ctx)
                except Exception:
                    probe_error('describe')
                    s = 'referenced by ' + _short(r)
                holders[s] = holders.get(s, 0) + k
        sub = None
    refs = r = x = y = None
    unexplained = 0
    for i in _xrange(n):
        u = rcs[i] - found[i]
        if u > 0 and _FRAME_LOCALS_ARE_PROXIES:
            u -= _running_locals(samples[i], holders)
        if u > 0:
            unexplained += u
    if unexplained:
        s = 'no referrer (reference leaked by C code)'
        holders[s] = holders.get(s, 0) + unexplained
    out = []
    for s in holders:
        out.append([s, holders[s]])
    out.sort(key=_holder_sort_key)
    ctx['hold'] = None
    size = sample_sizes(samples)
    samples = None
    emit('referrers', ['type', name, 'sampled', n, 'holders', out,
                       'unexplained', unexplained, 'size', size,
                       'dur', round(_thread_clock() - t0, 6)])


# 3.11+: a running function's locals are no Python object, so get_referrers cannot see
# them. 3.13's frame.f_locals is a live view (PEP 667) that reads them without copying;
# before 3.13 reading it would store a copy on the frame and change the very refcounts
# the probe reports, so there they count as unexplained.
_FRAME_LOCALS_ARE_PROXIES = sys.version_info[:2] >= (3, 13)


def _running_locals(x, holders):
    """References to x from local variables of running functions (3.13+), recorded."""
    found = 0
    try:
        frames = list(sys._current_frames().values())
    except Exception:
        return 0
    for f in frames:
        while f is not None:
            if f.f_globals is not _G:
                try:
                    for name, v in list(f.f_locals.items()):
                        if v is x:
                            s = 'local variable %s in function %s' % (name, f.f_code.co_name)
                            holders[s] = holders.get(s, 0) + 1
                            found += 1
                except Exception:
                    pass
            f = f.f_back
    frames = f = v = None
    return found


def _holder_sort_key(h):
    return (-h[1], h[0])


def _strong_watch_count(x):
    k = 0
    for e in _WATCHES:
        if e[3] and e[1] is x:
            k += 1
    return k


def _is_probe(r, skip):
    if id(r) in skip:
        return True
    if type(r) is _FrameType and r.f_globals is _G:
        return True
    if r is _G or r is _S or r is _STATE:
        return True
    return False


def _parents(c, ctx):
    """The app's objects that refer to c (the probe's own frames and lists left out)."""
    out = _filtered(gc.get_referrers(c), ctx['skip'], None)
    ctx['skip'][id(out)] = 1
    ctx['hold'].append(out)
    return out


def _filtered(ps, skip, args):
    # Drop the probe's own referrers, and do not keep the raw list: it holds the
    # probe's frames (Python 2, <= 3.10), which hold it back: a cycle.
    out = []
    try:
        for p in ps:
            if _is_probe(p, skip) or (args is not None and _is_args(p, args)):
                continue
            out.append(p)
    finally:
        ps = None
        p = None
    return out


def _is_args(p, args):
    # the argument tuple of gc.get_referrers(*samples) holds the samples too
    if type(p) is not tuple or len(p) != len(args):
        return False
    for i in _xrange(len(args)):
        if p[i] is not args[i]:
            return False
    return True


def _module_dicts(ctx):
    m = ctx['mods']
    if m is None:
        m = {}
        for name, mod in list(sys.modules.items()):
            try:
                d = mod.__dict__
            except Exception:
                continue
            if type(d) is dict:
                m[id(d)] = name
        ctx['mods'] = m
    return m


def _key_of(d, v):
    for k, val in list(d.items()):
        if val is v:
            return k
    return None


def _is_class(o):
    return isinstance(o, type) or (_ClassType is not None and type(o) is _ClassType)


def _root(c, holder, ctx):
    """(kind, expr) when holder is a namespace (module, instance, class) holding c."""
    th = type(holder)
    if th is dict:
        mods = _module_dicts(ctx)
        k = None
        if id(holder) in mods:
            k = _key_of(holder, c)
            if k is not None:
                return ('module global', '%s.%s' % (mods[id(holder)], k))
            return None
        owners = _parents(holder, ctx)
        for o in owners:
            if _is_class(o):
                try:
                    ns = o.__dict__
                    k = _key_of(holder, c)
                    if k is not None and k in ns and ns[k] is c:
                        return ('class attribute', '%s.%s' % (o.__name__, k))
                except Exception:
                    pass
            else:
                try:
                    if getattr(o, '__dict__', None) is holder:
                        k = _key_of(holder, c)
                        if k is not None:
                            return ('attribute', '%s.%s' % (_short(o), k))
                except Exception:
                    pass
        return None
    if th in (list, tuple, set, frozenset, _MethodType, _FrameType, _CellType, _GenType):
        return None
    if _is_class(holder):
        try:
            k = _key_of(holder.__dict__, c)
        except Exception:
            k = None
        if k is not None:
            return ('class attribute', '%s.%s' % (holder.__name__, k))
        return None
    # an instance whose attributes are not in a separate dict (3.11+, __slots__)
    try:
        d = getattr(holder, '__dict__', None)
        if type(d) is dict:
            k = _key_of(d, c)
            if k is not None:
                return ('attribute', '%s.%s' % (_short(holder), k))
        for klass in type(holder).__mro__:
            for slot in klass.__dict__.get('__slots__', ()):
                if isinstance(slot, (str, _unicode)) and getattr(holder, slot, None) is c:
                    return ('attribute', '%s.%s' % (_short(holder), slot))
    except Exception:
        pass
    return None


_KIND = {list: 'list', tuple: 'tuple', dict: 'dict', set: 'set', frozenset: 'frozenset',
         _MethodType: 'bound method'}


def _name(c, ctx, depth):
    """(kind, expr) naming container c by a path from a root, or None."""
    memo = ctx['memo']
    key = id(c)
    if key in memo:
        return memo[key]          # a name found before, or None: no name from any depth
    busy = ctx['busy']
    if depth > 4 or key in busy:
        return None               # too deep, or a cycle: no name from here (not cached)
    busy[key] = 1
    try:
        res = _name_walk(c, ctx, depth)
    finally:
        del busy[key]
    if res is not None or depth == 1:
        memo[key] = res
    return res


def _name_walk(c, ctx, depth):
    parents = _parents(c, ctx)
    res = None
    for p in parents:
        if type(p) in (_FrameType, _GenType):
            continue
        res = _root(c, p, ctx)
        if res is not None:
            break
    if res is None:
        for p in parents:
            tp = type(p)
            if tp is dict:
                sub = None
                k = _key_of(p, c)
                if k is not None:
                    sub = _key_text(k)
            elif tp is list or tp is tuple:
                sub = '[*]'
            else:
                continue
            if sub is None:
                continue
            pn = _name(p, ctx, depth + 1)
            if pn is not None:
                res = (_KIND.get(type(c), _short(c)), pn[1] + sub)
                break
    return res


def _phrase(c, ctx):
    n = _name(c, ctx, 1)
    if n is None:
        return 'unnamed ' + _KIND.get(type(c), _short(c))
    return '%s %s' % n


def _holder_phrase(m, ctx):
    """Where object m (e.g. a bound method) is kept, as a phrase."""
    parents = _parents(m, ctx)
    for p in parents:
        r = _root(m, p, ctx)
        if r is not None:
            return '%s %s' % r
    for p in parents:
        if type(p) in (list, tuple, dict, set, frozenset):
            return _phrase(p, ctx)
    return 'unnamed place'


def _func_of_cell(cell, ctx):
    for p in _parents(cell, ctx):
        if type(p) is tuple:
            for f in _parents(p, ctx):
                if type(f) is _FunctionType and getattr(f, '__closure__', getattr(f, 'func_closure', None)) is p:
                    return f.__name__
    return '?'


def _describe(x, r, ctx):
    """One sentence: how referrer r holds x, named from a root."""
    tr = type(r)
    if tr is dict:
        root = _root(x, r, ctx)
        if root is not None:
            return '%s %s' % root
        if _key_of(r, x) is not None:
            return 'dict value in ' + _phrase(r, ctx)
        return 'dict key in ' + _phrase(r, ctx)
    if tr is list:
        return 'list item in ' + _phrase(r, ctx)
    if tr is tuple:
        return 'tuple item in ' + _phrase(r, ctx)
    if tr is set or tr is frozenset:
        return 'set member in ' + _phrase(r, ctx)
    if tr is _MethodType:
        f = getattr(r, '__func__', None) or getattr(r, 'im_func', None)
        fname = getattr(f, '__name__', '?')
        return 'bound method %s.%s in %s' % (_short(x), fname, _holder_phrase(r, ctx))
    if tr is _CellType:
        return 'closure cell of function ' + _func_of_cell(r, ctx)
    if tr is _FrameType:
        return 'local variable in function ' + r.f_code.co_name
    if tr is _GenType:
        return 'local variable in generator ' + getattr(r, '__name__', '?')
    if tr is _FunctionType:
        return 'function ' + r.__name__
    root = _root(x, r, ctx)
    if root is not None:
        return '%s %s' % root
    try:
        if type(x) is dict and getattr(r, '__dict__', None) is x:
            return '__dict__ of ' + _short(r)
    except Exception:
        pass
    return 'referenced by ' + _short(r)

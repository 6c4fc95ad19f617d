# ---------------------------------------------------------------- referrers  (probe/referrers.py)
# Who holds the sampled objects: gc.get_referrers, walked up to a root the probe can
# name (a module global, an attribute, a class attribute), as sentences with counts.
# A holder that only carries the reference (a closure's cell, a function, a bound method,
# an anonymous tuple) is followed up to the first container a person names in code, and
# said in one phrase (probe/links.py, which follows them).
# The walk runs on the sampler thread or inside the app's mark(): it stops at its time
# cap, and it never runs the app's code (see "reading app objects" below).
# Defines: referrers_pass (census calls it with the deadline), _pick_samples (census calls
#   it with the types _choose picked), _take_samples, _probe_ids, CUT, _describe, _root,
#   _name, _parents, _short, _inst_dict, _sample_rc, _func_name, _KIND, _CellType.
# Uses: base (_type_attr, _GetSetType, _MemberType, _thread_clock, the type handles),
#   writer (emit, probe_error, _W), census (_names, _STATE), sizes (sample_sizes, _HEAPTYPE),
#   api (_WATCHES, _mark_next, _mark_pairs), links (_chain, _in_chain, _said, _item_phrase, _closure_owner,
#   _funcs_of_cell, _method_text, _is_link, _class_text, _owner_text).

_CellType = type((lambda x: (lambda: x))(0).__closure__[0]) if hasattr(_FunctionType, '__closure__') \
    else type((lambda x: (lambda: x))(0).func_closure[0])


# ---- reading app objects
# Reading an app object's attribute the usual way can run the app's code on the probe's
# thread: its __getattribute__ or __getattr__, a property (a proxy's lying __class__, a
# __dict__ property), its metaclass's hooks for a class. isinstance(o, T) asks
# o.__class__ when type(o) is not T. So the walk asks type(o), never o.__class__ (an
# old-style instance's class is a C attribute), reads a class's __dict__, __name__ and
# __mro__ through `type`'s own descriptors (_type_attr), an instance's __dict__ through
# the getset (or member) descriptor its type's MRO holds and never through anything
# else, its slots through their member descriptors, and tells classes apart by
# issubclass(type(o), type).

def _is_class(o):
    t = type(o)
    return issubclass(t, type) or (_ClassType is not None and t is _ClassType)


def _short(o):
    t = type(o)
    if t is _InstanceType:
        t = o.__class__          # an old-style instance's class: a C attribute, no hook
    n = _type_attr(t, '__name__')
    if n is None:
        return '?'
    try:
        return str(n)
    except Exception:
        return '?'


_ModuleType = type(sys)
_MODULE_DICT = _ModuleType.__dict__['__dict__']          # a member descriptor


def _inst_dict(o):
    """o's attribute dict, or None: read through the interpreter's own __dict__
    descriptor found on type(o)'s MRO; when what is found there is anything else (a
    property), nothing is read at all."""
    t = type(o)
    if t is _ModuleType:
        return _MODULE_DICT.__get__(o, t)     # the common case, made short
    if t is _InstanceType:
        return o.__dict__        # old-style instance (2.x): a C attribute, no hook
    for k in _type_attr(t, '__mro__', ()):
        ns = _type_attr(k, '__dict__')
        if ns is None:
            continue
        d = ns.get('__dict__')
        if d is None:
            continue
        td = type(d)
        if td is _GetSetType or td is _MemberType:
            try:
                return d.__get__(o, t)
            except Exception:
                return None
        return None
    return None


def _slot_holding(o, c):
    """The name of o's slot that holds c (read through the member descriptors of the
    classes on its MRO that declare __slots__), or None."""
    t = type(o)
    for k in _type_attr(t, '__mro__', ()):
        ns = _type_attr(k, '__dict__')
        if ns is None or '__slots__' not in ns:
            continue
        for name, d in list(ns.items()):
            if type(d) is _MemberType:
                try:
                    if d.__get__(o, t) is c:
                        return name
                except Exception:
                    pass         # an empty slot
    return None


_METHOD_FUNC = _MethodType.__dict__.get('__func__')
if _METHOD_FUNC is None:
    _METHOD_FUNC = _MethodType.__dict__['im_func']     # 2.5


def _func_name(f):
    """A function's name; '?' for a callable of the app's own class (its __name__ could
    be anything, a property too)."""
    fl = _type_attr(type(f), '__flags__')
    if fl is None or fl & _HEAPTYPE:
        return '?'
    try:
        return str(getattr(f, '__name__', '?'))    # a built-in type's C attribute
    except Exception:
        return '?'


def _key_text(k):
    tk = type(k)
    if issubclass(tk, (str, _unicode)):
        return "['%s']" % k
    if issubclass(tk, (int, _long)) and tk is not bool:
        return '[%d]' % k
    return '[...]'


def _sample_rc(samples, i):
    x = samples[i]
    return _grc(x)


# ---- the samples: which live objects of a chosen type the walk starts from

def _probe_ids():
    out = {}
    for o in (_S, _W, _STATE, _G, _names, _WATCHES, _mark_pairs, _mark_next,
              _STATE['hist'], _STATE['last_ref'], _STATE['watch_types']):
        out[id(o)] = 1
    return out


def _pick_samples(objs, chosen):
    """Up to 3 live instances of each chosen type. Of a type whose count grows, the newest
    survivors: taken from the end of gc.get_objects(), which lists each generation oldest
    first and the oldest generation last (a collection appends the survivors to the older
    generation's end), the survivors the collector promoted last, the ones a leak left
    behind. Taken from the front after a collection (everything then in the oldest
    generation), they were the interpreter's own startup objects (a `function` sampled as
    Registry.__init__, a `tuple` as a class's MRO, a lock as the main thread's), unrelated to
    the growth. Of a type whose count is flat but whose references grow, any instance may be
    the one referenced, and the newest are the leak's own helpers (its class, its methods'
    functions: hundreds of referrers each, a long walk): the youngest generation first."""
    newest = {}
    front = {}
    refs_only = _STATE['refs_only']
    for t in _names:
        name = _names[t]
        if name in chosen:
            if name in refs_only:
                front[t] = chosen[name]
            else:
                newest[t] = chosen[name]
    if not newest and not front:
        return None
    mine = _probe_ids()
    if newest:
        _take_samples(objs, newest, mine, len(objs) - 1, -1, -1)
    if front:
        _take_samples(objs, front, mine, 0, len(objs), 1)
    out = []
    for name in chosen:
        out.append((name, chosen[name]))
    chosen.clear()
    newest.clear()
    front.clear()
    return out


def _take_samples(objs, by_type, mine, start, stop, step):
    """Fill by_type's lists (up to 3 each) with objs[start:stop:step] of their types."""
    left = 3 * len(by_type)
    inst = _InstanceType
    for i in _xrange(start, stop, step):
        o = objs[i]
        t = type(o)
        if t is inst:
            t = o.__class__
        lst = by_type.get(t)
        if lst is not None and len(lst) < 3 and id(o) not in mine:
            lst.append(o)
            left -= 1
            if left <= 0:
                break
    o = None


# ---- the walk, bounded in time
# A gc.get_referrers call scans the whole heap with the GIL held, and cannot be cut short;
# the walk checks its deadline before every one, between holders, and every SCAN_STEP
# objects of a big referrer. At the deadline it stops: every reference of the samples it
# has not named is counted under CUT (unexplained is then unknown, and left 0).
SCAN_STEP = 8192
CUT = 'unnamed holder (the referrer walk reached its time cap)'


class _WalkCut(Exception):
    """The referrer walk reached its deadline."""


def _in_time(ctx):
    if _thread_clock() > ctx['deadline'] or _wall_clock() > _S['ref_wall']:
        raise _WalkCut()


def _count_in(sub, samples, ks, ctx):
    """ks[i] = how many of the referents sub are samples[i] (by identity)."""
    n = len(samples)
    for i in _xrange(n):
        ks[i] = 0
    m = len(sub)
    j = 0
    while j < m:
        part = sub
        if m > SCAN_STEP:
            _in_time(ctx)
            part = sub[j:j + SCAN_STEP]
        for i in _xrange(n):
            x = samples[i]
            k = 0
            for y in part:
                if y is x:
                    k += 1
            ks[i] += k
        j += SCAN_STEP
    part = x = y = None


NO_REFERRER = 'no referrer (reference leaked by C code)'
def _add_holder(holders, x, r, k, ctx):
    """Count k references to x under the sentence naming how r holds it (past the
    deadline under CUT, and the _WalkCut goes on). Past the pass's first HOLDERS_NAMED
    holders, by the holder's type alone: naming one may scan the heap, and a class's
    samples have every instance as a holder (2.7: 2350 nodes named, 25 s of a short run)."""
    ctx['named'] += 1
    if ctx['named'] > HOLDERS_NAMED:
        s = 'referenced by ' + _short(r)
        holders[s] = holders.get(s, 0) + k
        return
    try:
        s = _describe(x, r, ctx)
    except _WalkCut:
        holders[CUT] = holders.get(CUT, 0) + k
        raise
    except Exception:
        probe_error('describe')
        s = 'referenced by ' + _short(r)
    holders[s] = holders.get(s, 0) + k
    t = type(r)
    if t is list or t is dict:
        # the container itself, for a narrowing window that watches it grow (narrow.py)
        e = ctx['cont'].get(id(r))
        if e is None:
            ctx['cont'][id(r)] = [k, r, s]
        else:
            e[0] += k


HOLDERS_NAMED = 64     # holders a pass names in full (see _add_holder)
NO_TRACKED_REFERRER = 'no tracked referrer (C code, or a tuple or dict the collector does not track)'


def referrers_pass(name, objs_of, pending, deadline, extra=()):
    """Who holds the sampled objects of type `name`: one referrers record (with the
    fields in `extra` too: the deep census's passes over untracked objects). Stops at
    deadline (a _thread_clock() value)."""
    t0 = _thread_clock()
    samples = list(objs_of)
    del objs_of[:]
    n = len(samples)
    rcs = []
    for i in _xrange(n):
        rc = _sample_rc(samples, i) - _S['off_sample']
        rc -= _strong_watch_count(samples[i])
        rcs.append(rc)
    ctx = {'skip': {}, 'hold': [], 'memo': {}, 'qmemo': {}, 'qual': False, 'busy': {}, 'mods': None,
           'pc': {}, 'deadline': deadline, 'cont': {}, 'named': 0}
    skip = ctx['skip']
    skip.update(pending)
    skip[id(samples)] = 1
    skip[id(rcs)] = 1
    skip[id(ctx['hold'])] = 1
    skip[id(ctx['pc'])] = 1
    skip[id(ctx['cont'])] = 1
    skip[id(_WATCHES)] = 1
    skip[id(_names)] = 1
    for x in _narrow_own():
        skip[id(x)] = 1
    found = [0] * n
    ks = [0] * n
    holders = {}
    cut = False
    refs = r = None
    try:
        _in_time(ctx)
        refs = _filtered(gc.get_referrers(*samples), skip, samples)
        skip[id(refs)] = 1
        ctx['hold'].append(refs)
        for r in refs:
            _in_time(ctx)
            try:
                sub = gc.get_referents(r)
            except Exception:
                continue
            _count_in(sub, samples, ks, ctx)
            sub = None
            for i in _xrange(n):
                k = ks[i]
                if not k:
                    continue
                found[i] += k
                _add_holder(holders, samples[i], r, k, ctx)
    except _WalkCut:
        cut = True
        if not PY3:
            sys.exc_clear()      # its traceback holds the walk's frames
    refs = r = sub = None
    if extra and not cut:
        # untracked samples whose references are not all found: their holder may be an
        # untracked tuple or dict (of numbers and strings), which get_referrers cannot see
        # but the referents of tracked objects include: look there, once, named as usual
        try:
            cut = _untracked_holders(samples, rcs, found, holders, ctx)
        except Exception:
            probe_error('untracked holders')
    unexplained = 0
    for i in _xrange(n):
        u = rcs[i] - found[i]
        if u > 0 and cut:
            holders[CUT] = holders.get(CUT, 0) + u    # not looked at before the deadline
            continue
        if u > 0 and _FRAME_LOCALS_ARE_PROXIES:
            u -= _running_locals(samples[i], holders)
        if u > 0:
            unexplained += u
    if unexplained:
        s = NO_REFERRER
        if extra:
            # an untracked object's holder may itself be untracked (a tuple or a dict of
            # numbers and strings), which gc.get_referrers cannot see
            s = NO_TRACKED_REFERRER
        holders[s] = holders.get(s, 0) + unexplained
    out = []
    for s in holders:
        out.append([s, holders[s]])
    out.sort(key=_holder_sort_key)
    ctx['hold'] = None
    ctx['pc'] = None
    narrow_holder(name, ctx['cont'])
    ctx['cont'] = None
    size = sample_sizes(samples)
    samples = None
    emit('referrers', ['type', name, 'sampled', n, 'holders', out,
                       'unexplained', unexplained, 'size', size,
                       'dur', round(_thread_clock() - t0, 6)] + list(extra))


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
    if r is _G or r is _S or r is _STATE or r is _NW:
        return True
    return False


def _parents(c, ctx):
    """The app's objects that refer to c (the probe's own frames and lists left out): one
    scan of the whole heap, taken only before the walk's deadline, once per object in a
    pass (the pass drops what it held at its end)."""
    pc = ctx['pc']
    e = pc.get(id(c))
    if e is not None and e[0] is c:
        return e[1]              # asked before in this pass (naming and following links)
    _in_time(ctx)
    out = _filtered(gc.get_referrers(c), ctx['skip'], None)
    ctx['skip'][id(out)] = 1
    ctx['hold'].append(out)
    e = (c, out)
    ctx['skip'][id(e)] = 1       # it refers to c: never a parent of c itself
    pc[id(c)] = e
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
            d = _inst_dict(mod)              # a module's, or a stand-in's, never a hook
            if type(d) is dict:
                m[id(d)] = name
        ctx['mods'] = m
    return m


def _key_of(d, v):
    for k, val in list(d.items()):
        if val is v:
            return k
    return None


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
                    ns = _type_attr(o, '__dict__')
                    k = _key_of(holder, c)
                    if k is not None and k in ns and ns[k] is c:
                        return ('class attribute', '%s.%s' % (_class_text(o, ctx), k))
                except Exception:
                    pass
            else:
                try:
                    if _inst_dict(o) is holder:
                        k = _key_of(holder, c)
                        if k is not None:
                            return ('attribute', '%s.%s' % (_owner_text(o, ctx), k))
                except Exception:
                    pass
        return None
    if th in (list, tuple, set, frozenset, _MethodType, _FrameType, _CellType, _GenType):
        return None
    if _is_class(holder):
        try:
            k = _key_of(_type_attr(holder, '__dict__'), c)
        except Exception:
            k = None
        if k is not None:
            return ('class attribute', '%s.%s' % (_class_text(holder, ctx), k))
        return None
    # an instance whose attributes are not in a separate dict (3.11+, __slots__)
    try:
        d = _inst_dict(holder)
        if type(d) is dict:
            k = _key_of(d, c)
            if k is not None:
                return ('attribute', '%s.%s' % (_owner_text(holder, ctx), k))
        slot = _slot_holding(holder, c)
        if slot is not None:
            return ('attribute', '%s.%s' % (_owner_text(holder, ctx), slot))
    except Exception:
        pass
    return None


def _short_class(k):
    """A class's own name (k.__name__, read without its metaclass's hooks)."""
    n = _type_attr(k, '__name__')
    if n is None:
        return '?'
    return str(n)


_KIND = {list: 'list', tuple: 'tuple', dict: 'dict', set: 'set', frozenset: 'frozenset',
         _MethodType: 'bound method'}


def _name(c, ctx, depth):
    """(kind, expr) naming container c by a path from a root, or None."""
    memo = ctx['memo']
    if ctx.get('qual'):
        memo = ctx['qmemo']       # the same names, module-qualified (a chain's phrase)
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
    """Where object m (e.g. a bound method) is kept, as a phrase: a root or a named list,
    dict or set holding it; else the container found by following the links that hold it
    (an anonymous tuple, a closure), with the links said."""
    parents = _parents(m, ctx)
    for p in parents:
        r = _root(m, p, ctx)
        if r is not None:
            return '%s %s' % r
    for p in parents:
        if type(p) in (list, dict, set, frozenset) and _name(p, ctx, 1) is not None:
            return _phrase(p, ctx)
    ch = _chain(m, ctx)
    if ch is not None:
        return _said(ch)
    for p in parents:
        if type(p) in (list, tuple, dict, set, frozenset):
            return _phrase(p, ctx)
    return 'unnamed place'


def _describe(x, r, ctx):
    """One sentence: how referrer r holds x, named from a root."""
    tr = type(r)
    if tr is dict:
        root = _root(x, r, ctx)
        if root is not None:
            return '%s %s' % root
        if _key_of(r, x) is not None:
            return _item_phrase('dict value', r, ctx)
        return _item_phrase('dict key', r, ctx)
    if tr is list:
        return _item_phrase('list item', r, ctx)
    if tr is tuple:
        if type(x) is _CellType:
            f = _closure_owner(r, ctx)
            if f is not None:
                s = _in_chain('closure cell of `%s`' % _func_name(f), f, ctx)
                if s is not None:
                    return s
        return _item_phrase('tuple item', r, ctx)
    if tr is set or tr is frozenset:
        return _item_phrase('set member', r, ctx)
    if tr is _MethodType:
        # (x is its __self__; or its function, or on 2.x its class: the method is still
        # named by the instance it is bound to)
        return 'bound method %s in %s' % (_method_text(r, x), _holder_phrase(r, ctx))
    if tr is _CellType:
        fs = _funcs_of_cell(r, ctx)
        for f in fs:
            s = _in_chain('closure `%s`' % _func_name(f), f, ctx)
            if s is not None:
                return s
        if fs:
            return 'closure cell of function ' + fs[0].__name__
        return 'closure cell of function ?'
    if tr is _FrameType:
        return 'local variable in function ' + r.f_code.co_name
    if tr is _GenType:
        return 'local variable in generator ' + getattr(r, '__name__', '?')
    if tr is _FunctionType:
        head = 'function `%s`' % _func_name(r)
        if _closure_of(r) is x:
            head = 'closure tuple of `%s`' % _func_name(r)
        s = _in_chain(head, r, ctx)
        if s is not None:
            return s
        return 'function ' + r.__name__
    root = _root(x, r, ctx)
    if root is not None:
        return '%s %s' % root
    try:
        if type(x) is dict and _inst_dict(r) is x:
            return '__dict__ of ' + _short(r)
    except Exception:
        pass
    if _is_link(r):              # a built-in object that only carries it (a partial...)
        s = _in_chain('referenced by ' + _short(r), r, ctx)
        if s is not None:
            return s
    return 'referenced by ' + _short(r)

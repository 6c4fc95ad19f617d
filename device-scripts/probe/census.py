# ---------------------------------------------------------------- census  (probe/census.py)
# Type names and the census: count the live objects per type and sum their refcounts
# (corrected for the observer), then pick the types to ask "who holds these?" (their live
# samples are taken by referrers._pick_samples); with it, when due, the deep census of what
# the collector does not track (probe/deep.py: the `deep` record).
# Defines: census, type_name, _names, _STATE, _DEEP_STATE, _Calib, _PROBE_TYPES, _tally,
#   _choose, _name_of_obj, _heap_flagged.
# Uses: base (_type_attr, REFERRER_MAX), writer (emit, probe_error), storage (_Seg,
#   _Run, _Thinned: the probe's own types), referrers (referrers_pass, _pick_samples),
#   sampler (_read_proc, _spend), api (_WATCHES, marks_snapshot), deep (_deep_census,
#   _type_refs, _TYPE_REFS).

class _Calib(object):
    """Objects of known refcount, for measuring the observer (never in a census)."""
    pass


_names = {}          # type (or old-style class) -> name; its keys are corrected for
_PROBE_TYPES = (_Calib, _Seg, _Run, _Thinned)   # the probe's own: never in a census


def type_name(t):
    """'module.QualName', builtins bare; old-style classes by their own name. (Read the
    usual way, once per type: a metaclass's property can run here, and its error is
    recorded as a probe-error event. Holder naming reads classes through _type_attr.)"""
    try:
        n = getattr(t, '__qualname__', None)
        if not isinstance(n, (str, _unicode)):
            n = t.__name__
        m = getattr(t, '__module__', None)
        if m is None or m in ('builtins', '__builtin__', 'exceptions') or not isinstance(m, (str, _unicode)):
            return str(n)
        return '%s.%s' % (m, n)
    except Exception:
        probe_error('type name')
        return '?'


def _name_of_obj(o):
    t = type(o)
    if t is _InstanceType:
        t = o.__class__
    n = _names.get(t)
    if n is None:
        n = type_name(t)
    return n


# Three variants of the census loop, picked once: plain; Python 2 (old-style
# instances counted under their class); 3.12+ (immortal refcounts left out).
def _tally_plain(objs, cnt, rs, grc, tp, inst, lim, imm):
    for o in objs:
        t = tp(o)
        if t in cnt:
            cnt[t] += 1
            rs[t] += grc(o)
        else:
            cnt[t] = 1
            rs[t] = grc(o)


def _tally_py2(objs, cnt, rs, grc, tp, inst, lim, imm):
    for o in objs:
        t = tp(o)
        if t is inst:
            t = o.__class__
        if t in cnt:
            cnt[t] += 1
            rs[t] += grc(o)
        else:
            cnt[t] = 1
            rs[t] = grc(o)


def _tally_immortal(objs, cnt, rs, grc, tp, inst, lim, imm):
    for o in objs:
        t = tp(o)
        r = grc(o)
        if r >= lim:
            r = 0
            imm[t] = imm.get(t, 0) + 1
        if t in cnt:
            cnt[t] += 1
            rs[t] += r
        else:
            cnt[t] = 1
            rs[t] = r


# What the probe's own imports mid-run added (tracemalloc, ctypes for a narrowing window):
# id(type) -> [count, refsum, immortal count], taken out of every later census. Keyed by id so
# that these dicts (ints only) stay untracked and hold no reference to a type.
_IMPORTED = {}


def _tally_ids(c, r, m):
    objs = gc.get_objects()
    lim = IMMORTAL_MIN
    for o in objs:
        t = type(o)
        if t is _InstanceType:
            t = o.__class__
        k = id(t)
        n = _grc(o)
        if n >= lim:
            n = 0
            m[k] = m.get(k, 0) + 1
        c[k] = c.get(k, 0) + 1
        r[k] = r.get(k, 0) + n
    _drop_list(objs)


def probe_import(modname):
    """Import a module the probe needs in the middle of a run (a module of the standard
    library, once), and take what the import added out of every later census: without it
    the modules' dicts, functions and classes were the app's growth (a dict refcount suspect
    at 0.63 on a clean 3-second app, from tracemalloc's import at a window's opening)."""
    m = sys.modules.get(modname)
    if m is not None:
        return m
    # every container of the two tallies exists before the first: both see the same probe
    c0 = {}
    r0 = {}
    m0 = {}
    c1 = {}
    r1 = {}
    m1 = {}
    # each tally after a collection, as a census counts: what the import made that the
    # collector untracks at its first look (tuples and dicts of atomic values) is not taken
    # out of later censuses, which would no longer count it
    collect = gc.isenabled()
    if collect:
        gc.collect()
    _tally_ids(c0, r0, m0)
    try:
        __import__(modname)
    finally:
        if collect:
            gc.collect()
        _tally_ids(c1, r1, m1)
        for k in c1:
            dc = c1[k] - c0.get(k, 0)
            dr = r1[k] - r0.get(k, 0)
            dm = m1.get(k, 0) - m0.get(k, 0)
            if dc or dr or dm:
                e = _IMPORTED.get(k)
                if e is None:
                    _IMPORTED[k] = [dc, dr, dm]
                else:
                    e[0] += dc
                    e[1] += dr
                    e[2] += dm
    return sys.modules[modname]


if not PY3:
    _tally = _tally_py2
elif sys.version_info[:2] >= (3, 12):
    _tally = _tally_immortal
else:
    _tally = _tally_plain


# type flags: a heap type (a class, or a C type made at run time), and GC support
_HEAPTYPE = 1 << 9
_HAVE_GC = 1 << 14


def _heap_flagged(t):
    if _ClassType is not None and type(t) is _ClassType:
        return True
    try:
        return bool(_type_attr(t, '__flags__', 0) & _HEAPTYPE)
    except Exception:
        return False


_STATE = {'hist': {}, 'base': None, 'last_ref': {}, 'watch_types': [], 'refs_only': {}, 'growing': 0,
          'order': [], 'base_r': {}, 'loose': 0}
# the deep census's own: which untracked types grow, and which to sample at its next walk
_DEEP_STATE = {'hist': {}, 'base': None, 'last_ref': {}, 'watch_types': [], 'refs_only': {},
               'growing': 0, 'sample': 1, 'runs': 0, 'order': [], 'base_r': {}, 'loose': 1}


def census(collect=False, final=False):
    """A census (_census); its generation, odd while it runs, tells a narrowing window in
    another thread that references it saw come and go were the census's own."""
    _S['cgen'] += 1
    try:
        _census(collect, final)
    finally:
        _S['cgen'] += 1


def _census(collect, final):
    """One census, then a referrers pass for the types that grow. collect: first free
    the cyclic garbage (when the app has not turned the collector off), so the counts are
    the live objects, not how far the collector happens to be behind. final: the run's last
    census (what a narrowing window left is recorded)."""
    c0 = _thread_clock()
    if collect and gc.isenabled():
        gc.collect()
    objs = gc.get_objects()
    known = _names
    cnt = dict.fromkeys(known, 0)
    rs = dict.fromkeys(known, 0)
    imm = {}
    _tally(objs, cnt, rs, _grc, type, _InstanceType, IMMORTAL_MIN, imm)
    n_total = len(objs)
    result, correction = _census_result(cnt, rs, imm)
    cnt = rs = imm = None
    n_total -= correction
    chosen = _choose(result, _STATE)
    _S['growing'] = _STATE['growing']
    samples = None
    if chosen:
        samples = _pick_samples(objs, chosen)
    dur = _thread_clock() - c0
    # the app's RSS, read before the deep census: what its walk allocates for a moment (ids
    # held, counters) is the probe's, not the app's
    rss = None
    try:
        rss = int(_read_proc('/proc/self/statm').split()[1]) * _S['page_kib']
    except Exception:
        pass
    try:
        if final:
            narrow_final(objs)
        else:
            narrow_census(objs, _STATE)
    except Exception:
        probe_error('narrow')
    deep, deep_cost, deep_samples = _deep_census(objs)
    _drop_list(objs)
    objs = None
    _S['censuses'] += 1
    types_out = []
    for name in result:
        c, r = result[name]
        types_out.append([name, c, r])
    types_out.sort(key=_census_sort_key)
    marks = marks_snapshot()
    fields = ['marks', marks, 'dur', round(dur, 6), 'n', n_total, 'rss', rss, 'types', types_out]
    if _TYPE_REFS:
        try:
            fields += ['typeRefs', _type_refs()]
        except Exception:
            probe_error('type refs')
    emit('census', fields)
    if deep is not None:
        emit('deep', ['marks', marks] + deep)
    spent = _thread_clock() - c0
    if samples:
        _referrer_passes(samples, ())
        samples = None
        spent = _thread_clock() - c0
    if deep_samples:
        # who holds the untracked objects of the types the deep census saw growing: paid
        # from neither share (it would thin the points of one or the other; it is rare: at
        # most DEEP_PICK_TYPES types a REFERRER_PERIOD, each within REFERRER_MAX), counted in
        # the probe's CPU
        deep_cost += _referrer_passes(deep_samples, ('untracked', 1))
        deep_samples = None
        spent = _thread_clock() - c0
    _S['probe_cpu'] += spent
    # the deep census keeps to its own share (DEEP_SHARE of the budget, on top of it): the
    # plain census's cadence and allowance are not spent on it
    _spend(spent - deep_cost)


def _referrer_passes(samples, extra):
    """A referrers pass for each (name, objects) of samples, all within REFERRER_MAX;
    extra: fields for their records. Returns the CPU seconds they took."""
    c1 = _thread_clock()
    pending = {id(samples): 1}     # the other types' samples wait in these
    for pair in samples:
        pending[id(pair)] = 1
        pending[id(pair[1])] = 1
    deadline = c1 + REFERRER_MAX      # for all the types' walks together
    _S['ref_wall'] = _wall_clock() + REFERRER_WALL
    for name, objs_of in samples:
        try:
            referrers_pass(name, objs_of, pending, deadline, extra)
        except Exception:
            probe_error('referrers %s' % name)
        if _thread_clock() > deadline or _wall_clock() > _S['ref_wall']:
            break
    pair = objs_of = None
    return _thread_clock() - c1


def _drop_list(objs):
    """Empty a big list from the end, 8192 items at a time. Freed whole, its block
    (8 bytes an object) would be the biggest mmapped block glibc ever freed, and glibc
    would raise its mmap threshold to that size and from then on keep every census
    list in the heap for good: the probe would hold that memory for the whole run.
    Shrunk in place, the block goes back to the system at once."""
    n = len(objs)
    while n > 8192:
        n -= 8192
        del objs[n:]
    del objs[:]


def _census_sort_key(e):
    return (-e[1], e[0])


def _census_result(cnt, rs, imm):
    """Name the tallied types, correct for the observer, merge by name."""
    off = _S['off_census']
    ncache = 3  # references the probe holds to a known type: _names, cnt and rs keys
    for t in list(_names.keys()):
        if _heap_flagged(t):
            mt = type(t)
            if mt in rs:
                rs[mt] -= ncache
    for e in _WATCHES:
        if e[3]:
            o = e[1]
            mt = type(o)
            if mt is _InstanceType:
                mt = o.__class__
            if mt in rs and _tracked(o):
                rs[mt] -= 1
    w = _NW['wrefs']            # a narrowing window's weak references, one holder each
    if w and _weakref_ref in cnt:
        cnt[_weakref_ref] -= w
        rs[_weakref_ref] -= w
    for o in _NW['samples'] or ():  # ... and the objects it follows, held by one list
        t = type(o)
        if t is _InstanceType:
            t = o.__class__
        if t in rs:
            rs[t] -= 1
    taken = 0
    if _IMPORTED:
        for t in cnt:
            e = _IMPORTED.get(id(t))
            if e is not None:
                taken += min(cnt[t], e[0])
                cnt[t] = max(0, cnt[t] - e[0])
                rs[t] -= e[1]
                if e[2]:
                    imm[t] = max(0, imm.get(t, 0) - e[2])
    out = {}
    correction = taken
    for t in cnt:
        c = cnt[t]
        if t in _PROBE_TYPES:
            correction += c
            continue
        if c == 0:
            if t in _names:
                del _names[t]   # no instances: stop holding it (let dead classes go)
            continue
        name = _names.get(t)
        if name is None:
            name = type_name(t)
            _names[t] = name
        r = rs[t] - off * (c - imm.get(t, 0))
        prev = out.get(name)
        if prev is None:
            out[name] = (c, r)
        else:
            out[name] = (prev[0] + c, prev[1] + r)
    for name in _STATE['watch_types']:
        if name not in out:
            out[name] = (0, 0)
    return out, correction


_POPCOUNT = (0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4)


def _choose(result, st):
    """Which types to ask 'who holds these?' after this census (st: _STATE for the
    census, _DEEP_STATE for the deep census; each keeps its own history).

    Per type the probe keeps one small list (memory: one per type, not one per
    census), changed in place: [count, refsum, comparisons, count-up bits, count-changed bits,
    refsum-up bits], the bits over the last 4 census comparisons. st['loose'] (the deep
    census, whose points are few): a type may be chosen after one comparison, and one whose
    references grow may have a count that moved a little."""
    hist = st['hist']
    base = st['base']
    first = base is None
    if first:
        base = {}
        base_r = {}
        for name in result:
            base[name] = result[name][0]
            base_r[name] = result[name][1]
        st['base'] = base
        st['base_r'] = base_r
    base_r = st['base_r']
    loose = st['loose']
    for name in result:
        c, r = result[name]
        h = hist.get(name)
        if h is None:
            hist[name] = [c, r, 0, 0, 0, 0]
        else:
            # changed in place: a new tuple per type per census would be hundreds of tracked
            # objects the next census counts as the app's tuples (on 3.13, a clean app's tuple
            # count crept up by the ones no collection had untracked yet)
            h[2] = min(h[2] + 1, 4)
            h[3] = ((h[3] << 1) | (c > h[0])) & 15
            h[4] = ((h[4] << 1) | (c != h[0])) & 15
            h[5] = ((h[5] << 1) | (r > h[1])) & 15
            h[0] = c
            h[1] = r
    for name in list(hist.keys()):
        if name not in result:
            del hist[name]
    if first:
        st['order'] = []
        return {}
    now = time.time()
    last = st['last_ref']
    watched = st['watch_types']
    scored = []
    growing = 0
    refs_only = {}
    for name in hist:
        h = hist[name]
        if name in watched:
            scored.append((0, 0, name))
            continue
        steps = h[2]
        if steps >= 3 and (h[3] & 7 == 7 or (h[4] & 7 == 0 and h[5] & 7 == 7)):
            growing = 1    # rose at each of the last 3 censuses: not decided yet
        if steps < 2 - loose or now - last.get(name, -1e9) < REFERRER_PERIOD:
            continue
        growth = h[0] - base.get(name, 0)
        refs_up = _POPCOUNT[h[5]] * 2 > steps
        if loose and refs_up and h[1] - base_r.get(name, 0) > 8 * abs(growth) + 8:
            # the deep census, with its few points: the references climbed many times more
            # than a count that moved a little (a few strings more): same objects, more references
            score = _POPCOUNT[h[5]]
            refs_only[name] = 1
        elif _POPCOUNT[h[3]] >= min(steps, 3) and growth >= 2:
            score = growth                      # more objects, census after census
        elif refs_up and h[4] == 0:
            score = _POPCOUNT[h[5]]             # same objects, more references
            refs_only[name] = 1
        else:
            continue
        builtin = 1
        if '.' in name:
            builtin = 0
        scored.append((builtin, -score, name))
    st['growing'] = growing
    st['refs_only'] = refs_only
    scored.sort()
    chosen = {}
    order = []
    n = 0
    for b, s, name in scored:
        if name in watched or n < 3:
            chosen[name] = []
            order.append(name)
            if name not in watched:
                n += 1
            last[name] = now
    st['order'] = order
    return chosen

# ---------------------------------------------------------------- census  (probe/census.py)
# Type names and the census: count the live objects per type and sum their refcounts
# (corrected for the observer), then pick the types to ask "who holds these?" (their live
# samples are taken by referrers._pick_samples); with it, when due, the deep census of what
# the collector does not track (the `deep` record).
# Defines: census, type_name, _names, _STATE, _Calib, _PROBE_TYPES, _tally, _choose,
#   _name_of_obj, _heap_flagged, _tracked, _deep_census, _deep_walk, _deep_due, _DEEP,
#   _type_refs.
# Uses: base (_type_attr, REFERRER_MAX), writer (emit, probe_error), storage (_Seg,
#   _Run, _Thinned: the probe's own types), referrers (referrers_pass, _pick_samples),
#   sampler (_read_proc, _spend), api (_WATCHES, marks_snapshot).

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


_STATE = {'hist': {}, 'base': None, 'last_ref': {}, 'watch_types': [], 'refs_only': {}}


def census(collect=False):
    """One census, then a referrers pass for the types that grow. collect: first free
    the cyclic garbage (when the app has not turned the collector off), so the counts are
    the live objects, not how far the collector happens to be behind."""
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
    chosen = _choose(result)
    samples = None
    if chosen:
        samples = _pick_samples(objs, chosen)
    dur = _thread_clock() - c0
    deep, deep_cost = _deep_census(objs)
    _drop_list(objs)
    objs = None
    _S['censuses'] += 1
    types_out = []
    for name in result:
        c, r = result[name]
        types_out.append([name, c, r])
    types_out.sort(key=_census_sort_key)
    rss = None
    try:
        rss = int(_read_proc('/proc/self/statm').split()[1]) * _S['page_kib']
    except Exception:
        pass
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
        c1 = _thread_clock()
        pending = {id(samples): 1}     # the other types' samples wait in these
        for pair in samples:
            pending[id(pair)] = 1
            pending[id(pair[1])] = 1
        deadline = c1 + REFERRER_MAX      # for all the types' walks together
        for name, objs_of in samples:
            try:
                referrers_pass(name, objs_of, pending, deadline)
            except Exception:
                probe_error('referrers %s' % name)
            if _thread_clock() > deadline:
                break
        samples = None
        spent = _thread_clock() - c0
    _S['probe_cpu'] += spent
    # the deep census keeps to its own share (DEEP_SHARE of the budget, on top of it): the
    # plain census's cadence and allowance are not spent on it
    _spend(spent - deep_cost)


# ---------------------------------------------------------------- the deep census
# What gc.get_objects() never returns: objects the collector does not track (strings,
# numbers, locks, instances of C types without GC support, and tuples and dicts that hold
# only such objects). They are found as the referents of tracked objects (and, inside
# untracked tuples and dicts, of those), each counted once by type with its summed
# refcount. Counting each once needs the ids seen; to keep that bounded on a small device,
# an object is taken only when a hash of its address falls in 1/k of the range (the same
# choice every time it is met), so at most DEEP_SEEN_MAX ids are held: k doubles for the
# next deep census when they would be more, and halves when far fewer. The analysis scales
# the counts by k (an object met through a single reference needs no id held: only those
# referenced more than once are held). It runs at its own pace, on DEEP_SHARE of the census
# budget on top of the plain census's (whose cadence it does not slow), so on a big heap it
# comes less often than the plain census, and within a CPU deadline (DEEP_MAX).
# Left out as shared by design: the small ints the interpreter caches, bools and None.
DEEP_SHARE = 0.5
DEEP_SEEN_MAX = 8192
DEEP_MAX = 1.0
# It is front-loaded: a start-up allowance of CPU seconds (spent once: 0.12 s in a whole
# run) lets a short run still get enough deep censuses to measure a trend, spread over the
# run at gaps as long as the time so far (0.1, 0.2, 0.4, 0.8 s, ...); afterwards it comes at
# its share's pace.
DEEP_ALLOWANCE = 0.12
# While it samples, each sampled object also falls in one of DEEP_PARTS sub-samples (by the
# next bits of the same hash), and the record gives each type's count and refsum per
# sub-sample (`parts`): how far they differ is how far the sample's estimate can be off
# (a refsum that grows in one of 60 strings, sampled 1 in 4, is off by far more than one
# that grows in all of them), so the report's interval can say so.
DEEP_PART_BITS = 3
DEEP_PARTS = 1 << DEEP_PART_BITS
# The walk counts by buckets of the hash (DEEP_BUCKET_BITS more bits), so that when it meets
# more objects than it may hold ids for, it goes on taking half the buckets instead of
# starting over: a deep census on a heap bigger than the last is not lost.
DEEP_BUCKET_BITS = 6
DEEP_BUCKETS = 1 << DEEP_BUCKET_BITS
DEEP_CHUNK = 256
_DEEP = {'bits': 0, 'cost': 0.0, 'last': -1e9, 'runs': 0, 'spent': 0.0, 't0': 0.0}


def _tracked_test():
    """Is an object in gc.get_objects()? gc.is_tracked (2.7+); on 2.5 and 2.6, which have
    no lazy untracking, exactly when its type has GC support."""
    f = getattr(gc, 'is_tracked', None)
    if f is not None:
        return f
    cache = {}

    def tracked_by_type(o):
        t = type(o)
        v = cache.get(t)
        if v is None:
            v = bool(_type_attr(t, '__flags__', 0) & _HAVE_GC)
            cache[t] = v
        return v
    return tracked_by_type


_tracked = _tracked_test()
_DEEP_SKIP = {bool: 1, type(None): 1}


# Instances of a heap type built without GC support (a C extension's, made with
# PyType_FromSpec) are never tracked, and a C leak leaves them with no referrer for the walk
# to meet. But from Python 3.8 every instance of a heap type holds a reference to its type:
# the type's reference count less its own few (its module, its MRO, subclasses) follows
# the number of its live instances. Each census lists those types' reference counts.
_TYPE_REFS = PY3 and sys.version_info[:2] >= (3, 8)
TYPE_REFS_MAX = 500


def _untracked_heap_types():
    """Heap types whose instances the collector does not track (no GC flag), found by
    walking the subclasses of object (cheap: classes, not objects)."""
    out = []
    stack = [object]
    seen = {}
    subclasses = type.__subclasses__
    while stack and len(out) < TYPE_REFS_MAX:
        t = stack.pop()
        try:
            subs = subclasses(t)
        except Exception:
            continue
        for c in subs:
            if id(c) in seen:
                continue
            seen[id(c)] = 1
            stack.append(c)
            f = _type_attr(c, '__flags__', 0)
            if f & _HEAPTYPE and not f & _HAVE_GC and c not in _PROBE_TYPES:
                out.append(c)
    return out


_TYPE_CACHE = {'at': -1e9, 'types': [], 'direct': -1}
TYPE_CACHE_SECONDS = 10.0


def _type_refs():
    """[[name, references to the type], ...] for the heap types without GC (3.8+), with
    every census (cheap: the list of such types is found again every TYPE_CACHE_SECONDS, or
    at once when object has a new direct subclass: a C extension's type, just imported)."""
    if not _TYPE_REFS:
        return []
    now = time.time()
    direct = len(type.__subclasses__(object))
    if now - _TYPE_CACHE['at'] >= TYPE_CACHE_SECONDS or direct != _TYPE_CACHE['direct']:
        _TYPE_CACHE['direct'] = direct
        _TYPE_CACHE['types'] = _untracked_heap_types()
        _TYPE_CACHE['at'] = now
    out = []
    for t in _TYPE_CACHE['types']:
        name = _names.get(t)
        if name is None:
            name = type_name(t)
        out.append([name, _grc(t)])
    return out


# C types the app's own extensions define without GC support and as static types (the
# bindings of the Python 2 era; many 3.x ones too): their instances are in no census, not
# even counted through their type (a static type holds no reference per instance). When RSS
# grows and no Python object explains it, the report names them, with their size, as the
# likely cause. Found in the same walk of object's subclasses; only types of extension
# modules outside the interpreter's own (lib-dynload) are taken, at most C_TYPES_MAX.
C_TYPES_MAX = 32
_C_TYPES = {'at': -1e9, 'direct': -1, 'out': []}
_EXT_SUFFIXES = ('.so', '.pyd', '.dylib', '.sl')


def _ext_module_file(modname):
    """The file of loaded module `modname` when it is a C extension outside the stdlib."""
    mod = sys.modules.get(modname)
    if type(mod) is not _ModuleType:
        return None
    try:
        f = _MODULE_DICT.__get__(mod, _ModuleType).get('__file__')
    except Exception:
        return None
    if type(f) is not str or not f.endswith(_EXT_SUFFIXES) or '/lib-dynload/' in f:
        return None
    return f


def _c_types():
    """[[name, basic size in bytes], ...] of the static C types without GC of the app's
    extension modules (cached like _type_refs)."""
    now = time.time()
    direct = len(type.__subclasses__(object))
    if now - _C_TYPES['at'] < TYPE_CACHE_SECONDS and direct == _C_TYPES['direct']:
        return _C_TYPES['out']
    _C_TYPES['at'] = now
    _C_TYPES['direct'] = direct
    out = []
    stack = [object]
    seen = {}
    subclasses = type.__subclasses__
    while stack and len(out) < C_TYPES_MAX:
        t = stack.pop()
        try:
            subs = subclasses(t)
        except Exception:
            continue
        for c in subs:
            if id(c) in seen:
                continue
            seen[id(c)] = 1
            stack.append(c)
            f = _type_attr(c, '__flags__', 0)
            if f & (_HEAPTYPE | _HAVE_GC) or c in _PROBE_TYPES:
                continue
            mod = _type_attr(c, '__module__')
            size = _type_attr(c, '__basicsize__')
            if type(mod) is not str or type(size) is not int or _ext_module_file(mod) is None:
                continue
            out.append([type_name(c), size])
            if len(out) >= C_TYPES_MAX:
                break
    out.sort()
    _C_TYPES['out'] = out
    return out


def _deep_due(now):
    """Whether the deep census runs with this census: at least the gap after the last,
    and its tokens (its share of the time since the first one, plus its start-up
    allowance, less what it spent) cover its cost. Saved tokens are capped at a few deep
    censuses' worth."""
    if _DEEP['runs'] == 0:
        _DEEP['t0'] = now
        return True
    rate = max(1e-6, _S['budget'] * DEEP_SHARE)
    el = max(0.0, now - _DEEP['t0'])
    # spread over the run: a trend is measured over time, and points bunched at the start
    # (the allowance spent census after census) say little of the rest of a run; the gap
    # grows with the run (doubling) up to the share's own pace
    if now - _DEEP['last'] < max(FAST_GAP, min(0.5 * el, _DEEP['cost'] / rate)):
        return False
    tokens = rate * el + DEEP_ALLOWANCE - _DEEP['spent']
    cap = max(DEEP_ALLOWANCE, 4 * _DEEP['cost'])
    if tokens > cap:
        _DEEP['spent'] += tokens - cap
        tokens = cap
    return tokens >= _DEEP['cost']


def _deep_walk(objs, bits, deadline, off):
    """The untracked objects referenced from objs, each taken once when its address hash
    falls in 1/2**bits: (by type a list of DEEP_BUCKETS counts then DEEP_BUCKETS refsums,
    one per bucket of the next DEEP_BUCKET_BITS hash bits; the bits in the end; walked; ids
    held). When more than DEEP_SEEN_MAX ids would be held the walk goes on taking half as
    many (the buckets no longer taken are left out, their ids forgotten), so it is not lost;
    None when that is not enough (the next one starts sampling less) or past the deadline."""
    is_tracked = _tracked
    getr = gc.get_referents
    grc = _grc
    skip = _DEEP_SKIP
    shift = 32 - bits                       # taken: the top `bits` hash bits are 0
    low = shift - DEEP_BUCKET_BITS          # the bucket: the next DEEP_BUCKET_BITS bits
    mask = DEEP_BUCKETS - 1
    take = DEEP_BUCKETS                     # buckets taken (fewer as the walk samples less)
    nb = DEEP_BUCKETS
    seen = {}
    bk = {}
    walked = 0
    nseen = 0
    lim = IMMORTAL_MIN
    tup = tuple
    dct = dict
    intt = int
    pending = []
    n = len(objs)
    i = 0
    clock = _thread_clock
    chunk = 0
    while i < n or pending:
        if i < n:
            refs = getr(*objs[i:i + DEEP_CHUNK])
            i += DEEP_CHUNK
        else:
            refs = getr(*pending[:DEEP_CHUNK])
            del pending[:DEEP_CHUNK]
        walked += len(refs)
        chunk += 1
        for r in refs:
            if is_tracked(r):
                continue
            t = type(r)
            if t in skip:
                continue
            if t is tup or t is dct:
                pending.append(r)      # an untracked container: what it holds is untracked too
            elif t is intt and -5 <= r <= 256:
                continue               # the interpreter's cached small ints
            h = (((id(r) >> 4) * 2654435761) & 0xffffffff)
            if bits and (h >> shift) != 0:
                continue
            j = (h >> low) & mask
            if j >= take:
                continue
            c = grc(r)
            if c - off > 1:
                # met again through another reference: count it once (an object referenced
                # once is met once, and needs no id held)
                k = id(r)
                if k in seen:
                    if seen[k] == chunk and c < lim:
                        # its count was read while this chunk's list held it this time too:
                        # one reference the walk made, not the app
                        bk[t][nb + j] -= 1
                    continue
                seen[k] = chunk
                nseen += 1
            if c >= lim:
                c = 0
            p = bk.get(t)
            if p is None:
                p = bk[t] = [0] * (2 * nb)
            p[j] += 1
            p[nb + j] += c - off
        refs = None
        while nseen > DEEP_SEEN_MAX:
            # too many ids to hold: take half as many from here on (and forget the rest)
            take >>= 1
            if take < DEEP_PARTS:
                return None
            for k in list(seen):
                if (((((k >> 4) * 2654435761) & 0xffffffff) >> low) & mask) >= take:
                    del seen[k]
            nseen = len(seen)
        if clock() > deadline or len(pending) > DEEP_SEEN_MAX:
            # too slow, or a shared untracked container met again and again
            return None
    extra = 0
    while (DEEP_BUCKETS >> extra) > take:
        extra += 1
    return bk, take, bits + extra, walked, nseen


def _deep_census(objs):
    """The deep census, when due: the fields of its `deep` record (but its marks), or
    None. Its cost is paid from the census budget with the census's."""
    c0 = _thread_clock()
    if not _deep_due(time.time()):
        return None, 0.0
    bits = _DEEP['bits']
    got = None
    try:
        got = _deep_walk(objs, bits, c0 + DEEP_MAX, _S['off_deep'])
    except Exception:
        probe_error('deep census')
    dur = _thread_clock() - c0
    _DEEP['last'] = time.time()
    _DEEP['runs'] += 1
    _DEEP['cost'] = dur if _DEEP['cost'] <= 0 else 0.5 * _DEEP['cost'] + 0.5 * dur
    _DEEP['spent'] += dur
    if got is None:
        # too many to hold even so, or too slow: start sampling less next time (not written)
        _DEEP['bits'] = min(bits + DEEP_BUCKET_BITS - DEEP_PART_BITS, 16)
        return None, dur
    bk, take, bits, walked, held = got
    # the objects taken are in buckets 0..take-1; their DEEP_PARTS sub-samples are runs of
    # take/DEEP_PARTS buckets
    nb = DEEP_BUCKETS
    w = take // DEEP_PARTS
    types_out = []
    parts_out = []
    for t in bk:
        p = bk[t]
        cs = []
        rsum = []
        for q in _xrange(DEEP_PARTS):
            cs.append(sum(p[q * w:(q + 1) * w]))
            rsum.append(sum(p[nb + q * w:nb + (q + 1) * w]))
        count = sum(cs)
        if not count:
            continue
        name = _names.get(t)
        if name is None:
            name = type_name(t)
        types_out.append([name, count, sum(rsum)])
        if bits:
            parts_out.append([name] + cs + rsum)
    types_out.sort(key=_census_sort_key)
    parts_out.sort()
    _DEEP['bits'] = bits
    if bits and held * 2 < DEEP_SEEN_MAX * 3 // 4:
        # half the sampling would about double the ids held: only with room to spare
        _DEEP['bits'] = bits - 1
    out = ['dur', round(dur, 6), 'sample', 1 << bits, 'walked', walked, 'held', held,
           'types', types_out]
    if bits:
        out += ['parts', parts_out]
    try:
        ct = _c_types()
    except Exception:
        ct = []
        probe_error('c types')
    if ct:
        out += ['ctypes', ct]
    return out, _thread_clock() - c0


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
    out = {}
    correction = 0
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


def _choose(result):
    """Which types to ask 'who holds these?' after this census.

    Per type the probe keeps one small tuple (memory: one per type, not one per
    census): (count, refsum, comparisons, count-up bits, count-changed bits,
    refsum-up bits), the bits over the last 4 census comparisons."""
    hist = _STATE['hist']
    base = _STATE['base']
    first = base is None
    if first:
        base = {}
        for name in result:
            base[name] = result[name][0]
        _STATE['base'] = base
    for name in result:
        c, r = result[name]
        h = hist.get(name)
        if h is None:
            hist[name] = (c, r, 0, 0, 0, 0)
        else:
            hist[name] = (c, r, min(h[2] + 1, 4), ((h[3] << 1) | (c > h[0])) & 15,
                          ((h[4] << 1) | (c != h[0])) & 15, ((h[5] << 1) | (r > h[1])) & 15)
    for name in list(hist.keys()):
        if name not in result:
            del hist[name]
    if first:
        return []
    now = time.time()
    last = _STATE['last_ref']
    scored = []
    growing = 0
    refs_only = {}
    for name in hist:
        h = hist[name]
        if name in _STATE['watch_types']:
            scored.append((0, 0, name))
            continue
        steps = h[2]
        if steps >= 3 and (h[3] & 7 == 7 or (h[4] & 7 == 0 and h[5] & 7 == 7)):
            growing = 1    # rose at each of the last 3 censuses: not decided yet
        if steps < 2 or now - last.get(name, -1e9) < REFERRER_PERIOD:
            continue
        growth = h[0] - base.get(name, 0)
        if _POPCOUNT[h[3]] >= min(steps, 3) and growth >= 2:
            score = growth                      # more objects, census after census
        elif h[4] == 0 and _POPCOUNT[h[5]] * 2 > steps:
            score = _POPCOUNT[h[5]]             # same objects, more references
            refs_only[name] = 1
        else:
            continue
        builtin = 1
        if '.' in name:
            builtin = 0
        scored.append((builtin, -score, name))
    _S['growing'] = growing
    _STATE['refs_only'] = refs_only
    scored.sort()
    chosen = {}
    n = 0
    for b, s, name in scored:
        if name in _STATE['watch_types'] or n < 3:
            chosen[name] = []
            if name not in _STATE['watch_types']:
                n += 1
            last[name] = now
    return chosen

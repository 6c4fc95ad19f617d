# ---------------------------------------------------------------- deep census  (probe/deep.py)
# The deep census: what gc.get_objects() never returns, found as the referents of tracked
# objects (the `deep` record); the heap types without GC counted by their references
# (`typeRefs`), the static C types of the app's extensions (`ctypes`), and the samples
# of growing untracked types for their referrers passes.
# Defines: _deep_census, _deep_walk, _deep_due, _DEEP, _tracked, _type_refs, _TYPE_REFS,
#   _c_types, DEEP_BUCKETS, DEEP_PARTS, _untracked_holders (for referrers_pass).
# Uses: base (_type_attr, _thread_clock, REPAY via sampler), census (_names, type_name,
#   _choose, _DEEP_STATE, _census_sort_key, _HEAPTYPE, _HAVE_GC, _PROBE_TYPES), writer
#   (probe_error), referrers (_ModuleType, _MODULE_DICT), sampler (FAST_GAP).

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
# run at gaps of DEEP_SPREAD of the time so far; afterwards it comes at its share's pace.
# A fifth: a 3-second run gets 7 or 8 (each at a census, so a little later than due), of
# which the trend takes all but the first (before the app ran) and one taken after it
# ended; at half the time so far (doubling gaps) it got 4 or 5, too few for any trend
# test, and a cache of strings growing one a frame was "no leak" on 2.5, 2.7 and 3.11.
DEEP_ALLOWANCE = 0.12
DEEP_SPREAD = 0.2
# At least this long between two (its walk runs at the app's mark, holding the interpreter:
# in the first second of a run it would otherwise come with every fast census). 0.5 s gave
# a 3-s run 4 points the trend could use (the baseline's and the one taken after the app
# ended are not), one fewer than any trend needs: a string cache on 3.11 was "no leak"
DEEP_MIN_GAP = 0.35
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
_DEEP = {'bits': 0, 'cost': 0.0, 'last': -1e9, 'runs': 0, 'spent': 0.0, 't0': 0.0, 'want': {},
         'rc': {}}


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
    # grows with the run (DEEP_SPREAD of the time so far) up to the share's own pace
    gap = max(DEEP_MIN_GAP, min(DEEP_SPREAD * el, _DEEP['cost'] / rate))
    if _DEEP['want']:
        # a sample is wanted (its referrers pass): sooner, but not at once (a deep census is
        # also a point of the trend, and points bunched together measure less of it)
        gap = max(DEEP_MIN_GAP, min(0.5 * DEEP_SPREAD * el, _DEEP['cost'] / rate))
    if now - _DEEP['last'] < gap:
        return False
    tokens = rate * el + DEEP_ALLOWANCE - _DEEP['spent']
    cap = max(DEEP_ALLOWANCE, 4 * _DEEP['cost'])
    if tokens > cap:
        _DEEP['spent'] += tokens - cap
        tokens = cap
    return tokens >= _DEEP['cost']


DEEP_PICKS = 3         # untracked objects of a growing type kept for its referrers pass
DEEP_PICK_TYPES = 2    # untracked types sampled at once
DEEP_RC_MAX = 2048     # references recorded per type whose references grow, between two walks


def _pick_key(e):
    return e[0]


def _deep_pick(picks, t, r, key):
    """Keep r among the DEEP_PICKS objects of type t with the largest key."""
    p = picks.get(t)
    if p is None:
        p = picks[t] = []
    if len(p) < DEEP_PICKS:
        p.append((key, r))
        p.sort(key=_pick_key)
    elif key > p[0][0]:
        p[0] = (key, r)
        p.sort(key=_pick_key)


def _id_hash(k):
    """A 32-bit hash of an address k (its 30 bits above the alignment, times Knuth's
    constant: no long arithmetic on a 64-bit Python 2). The sampled walk's inner loop
    writes it out in place (a call per object costs)."""
    return (((k >> 4) & 0x3fffffff) * 2654435761) & 0xffffffff


def _addr_hash(o):
    return _id_hash(id(o))


def _deep_keep(want, rcrec, rcprev, picks, t, r, c, off):
    """An object of a wanted type: kept for its referrers pass (see _deep_walk)."""
    w = want[t]
    if w < 0:
        # its count grows: the new objects are the ones that say who keeps them (an old
        # string's holders are the module or class it names, not the leak)
        h = _addr_hash(r)
        if (h & 0xffff) >= -w:
            return
        if t in rcrec:
            rec = rcrec[t]
            if len(rec) < DEEP_RC_MAX:
                rec[id(r)] = 1
        elif id(r) not in rcprev[t]:
            _deep_pick(picks, t, r, h)
    elif not w:
        _deep_pick(picks, t, r, _addr_hash(r))
    elif t in rcrec:
        rec = rcrec[t]
        # a spread of them by hash (want[t]: how many in 65536), to fit the cap
        if c and c - off >= 3 and (_addr_hash(r) & 0xffff) < want[t] and len(rec) < DEEP_RC_MAX:
            rec[id(r)] = c
    elif c:
        d = c - rcprev[t].get(id(r), c)
        if d > 0:
            _deep_pick(picks, t, r, d)


OWN_MAX = 50000


def _own_containers():
    """The ids of the probe's own dicts, lists and tuples, left out of the deep walk with
    what they hold: its history of counts grew by 11 ints over a 300-frame run on 2.7."""
    mine = {}
    stack = [_S, _W, _STATE, _DEEP_STATE, _DEEP, _names, _NW]
    getr = gc.get_referents
    while stack and len(mine) < OWN_MAX:
        o = stack.pop()
        if id(o) in mine:
            continue
        mine[id(o)] = 1
        for r in getr(o):
            t = type(r)
            if (t is dict or t is list or t is tuple) and id(r) not in mine:
                stack.append(r)
    return mine


def _deep_walk(objs, bits, deadline, off, want=None, rcprev=None, mine=None):
    """The untracked objects referenced from objs, each taken once when its address hash
    falls in 1/2**bits: (by type a list of DEEP_BUCKETS counts then DEEP_BUCKETS refsums,
    one per bucket of the next DEEP_BUCKET_BITS hash bits; the bits in the end; walked; ids
    held; picks; rcrec), or None when it cannot be done (the next one starts sampling less)
    or past the deadline. Taking every object (bits 0) is the plain walk, without hashing;
    when it meets more than DEEP_SEEN_MAX objects to hold ids for, it starts again at once,
    sampling. While sampling, the walk goes on taking half as many when the ids would be
    too many (the buckets no longer taken are left out, their ids forgotten).
    want: {type: 0, -n or n}: keep a few objects of these types taken (see _deep_pick). Of a
    type whose count grows (-n), new ones: this walk records the ids of n in 65536 by hash
    (at most DEEP_RC_MAX) when rcprev has none, else takes those of the same spread whose
    ids it did not record (0: a spread by hash, new or not). Of one whose references grow (n), those
    whose references grew most since the last walk: rcprev[type] holds their counts then
    ({id: refcount}); without it this walk records them (rcrec: of those with 3 references
    or more, n in 65536 by hash, at most DEEP_RC_MAX), returned for the next."""
    rcrec = {}
    if want:
        for t in want:
            if want[t] and not (rcprev and t in rcprev):
                rcrec[t] = {}
    if not bits:
        got = _deep_walk_all(objs, deadline, off, want, rcprev, rcrec, mine or {})
        if type(got) is not int:
            return got
        bits = got        # too many ids to hold: again, sampling
        for t in rcrec:
            rcrec[t] = {}
    return _deep_walk_sampled(objs, bits, deadline, off, want, rcprev, rcrec, mine or {})


def _deep_walk_all(objs, deadline, off, want, rcprev, rcrec, mine):
    """_deep_walk taking every object; or how many bits to sample with when more ids would
    be held than DEEP_SEEN_MAX (estimated from how far it got); None past the deadline."""
    is_tracked = _tracked
    getr = gc.get_referents
    grc = _grc
    skip = _DEEP_SKIP
    seen = {}
    cnt = {}
    rs = {}
    picks = {}
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
            if t is intt:
                if -5 <= r <= 256:
                    continue           # the interpreter's cached small ints
            elif (t is tup or t is dct) and id(r) in mine:
                continue               # the probe's own state (see _own_containers)
            c = grc(r)
            if c - off > 1:
                # met again through another reference: count it once (an object referenced
                # once is met once, and needs no id held)
                k = id(r)
                if k in seen:
                    if seen[k] == chunk and c < lim:
                        # its count was read while this chunk's list held it this time too:
                        # one reference the walk made, not the app
                        rs[t] -= 1
                    continue
                seen[k] = chunk
                nseen += 1
            if t is tup or t is dct:
                # an untracked container: what it holds is untracked too (walked once: one
                # met again is not, or what only it holds would be counted again)
                pending.append(r)
            if c >= lim:
                c = 0
            if t in cnt:
                cnt[t] += 1
                rs[t] += c - off
            else:
                cnt[t] = 1
                rs[t] = c - off
            if want and t in want:
                _deep_keep(want, rcrec, rcprev, picks, t, r, c, off)
        refs = None
        if nseen > DEEP_SEEN_MAX:
            # too many to hold: how many bits the whole walk would need, from how far it got
            need = nseen * float(n + len(pending)) / max(1, min(i, n)) / DEEP_SEEN_MAX
            more = 1
            while (1 << more) < 2 * need and more < 16:
                more += 1
            return more
        if clock() > deadline or len(pending) > DEEP_SEEN_MAX:
            # too slow, or a shared untracked container met again and again
            return None
    r = None
    nb = DEEP_BUCKETS
    bk = {}
    for t in cnt:
        p = bk[t] = [0] * (2 * nb)
        p[0] = cnt[t]
        p[nb] = rs[t]
    return bk, nb, 0, walked, nseen, picks, rcrec


def _deep_walk_sampled(objs, bits, deadline, off, want, rcprev, rcrec, mine):
    """_deep_walk taking 1 in 2**bits objects (bits > 0), by buckets."""
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
    walked_c = {}       # ids of the untracked containers met more than once: walked already
    bk = {}
    picks = {}
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
                # an untracked container: what it holds is untracked too, walked once whether
                # or not the container itself is taken (see _deep_walk_all)
                k = id(r)
                if k in mine:
                    continue           # the probe's own state (see _own_containers)
                if k not in walked_c:
                    if grc(r) - off > 1:
                        walked_c[k] = 1
                    pending.append(r)
            elif t is intt and -5 <= r <= 256:
                continue               # the interpreter's cached small ints
            h = (((id(r) >> 4) & 0x3fffffff) * 2654435761) & 0xffffffff     # _id_hash(id(r))
            if (h >> shift) != 0:
                continue
            j = (h >> low) & mask
            if j >= take:
                continue
            c = grc(r)
            if c - off > 1:
                k = id(r)
                if k in seen:
                    if seen[k] == chunk and c < lim:
                        bk[t][nb + j] -= 1      # as in _deep_walk_all
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
            if want and t in want:
                _deep_keep(want, rcrec, rcprev, picks, t, r, c, off)
        refs = None
        while nseen > DEEP_SEEN_MAX:
            # too many ids to hold: take half as many from here on (and forget the rest)
            take >>= 1
            if take < DEEP_PARTS:
                return None
            for k in list(seen):
                if ((_id_hash(k) >> low) & mask) >= take:
                    del seen[k]
            nseen = len(seen)
        if clock() > deadline or len(pending) > DEEP_SEEN_MAX or len(walked_c) > DEEP_SEEN_MAX:
            # too slow, or too many shared untracked containers
            return None
    extra = 0
    while (DEEP_BUCKETS >> extra) > take:
        extra += 1
    r = None
    return bk, take, bits + extra, walked, nseen, picks, rcrec


def _deep_census(objs):
    """The deep census, when due: the fields of its `deep` record (but its marks), or
    None. Its cost is paid from the census budget with the census's."""
    c0 = _thread_clock()
    if not _deep_due(time.time()):
        return None, 0.0, None
    bits = _DEEP['bits']
    got = None
    try:
        mine = _own_containers()
        roots = [o for o in objs if id(o) not in mine]
        got = _deep_walk(roots, bits, c0 + DEEP_MAX, _S['off_deep'], _DEEP['want'], _DEEP['rc'], mine)
        roots = mine = None
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
        return None, dur, None
    bk, take, bits, walked, held, picks, rcrec = got
    got = None
    # the objects taken are in buckets 0..take-1; their DEEP_PARTS sub-samples are runs of
    # take/DEEP_PARTS buckets
    nb = DEEP_BUCKETS
    w = take // DEEP_PARTS
    types_out = []
    parts_out = []
    result = {}
    by_name = {}
    k = 1 << bits
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
        result[name] = (count * k, sum(rsum) * k)
        by_name[name] = t
        if bits:
            parts_out.append([name] + cs + rsum)
    # the samples this walk kept (for the types chosen last time), then what to sample next
    samples = []
    for t in picks:
        name = _names.get(t)
        if name is None:
            name = type_name(t)
        objs_of = []
        for e in picks[t]:
            objs_of.append(e[1])
        samples.append((name, objs_of))
    picks = e = None
    st = _DEEP_STATE
    st['runs'] += 1
    if st['sample'] != k or st['runs'] == 2:
        # another sampling factor takes other objects: the history starts again; and it
        # starts after the baseline (taken before the app ran: its first change is the
        # app's start-up, which would hide a flat count for the few deep censuses a short
        # run has)
        st['hist'] = {}
        st['base'] = None
        st['sample'] = k
    _choose(result, st)
    # a type whose references grow had them recorded by this walk: the next one picks those
    # that grew most (so it stays wanted); every other wanted type was picked by this walk
    want = {}
    before = _DEEP['want']
    for t in rcrec:
        # recorded by this walk: the next one takes from the same spread
        w = before.get(t, 1)
        want[t] = w if w < 0 else 1
    for name in st['order']:
        t = by_name.get(name)
        if t is not None and t not in want and len(want) < DEEP_PICK_TYPES:
            # record about DEEP_RC_MAX of them: a spread of the type's objects taken
            taken = max(1, result[name][0] // k)
            spread = max(1, min(65536, 65536 * DEEP_RC_MAX // taken // 2))
            if name in st['refs_only']:
                want[t] = spread
            else:
                want[t] = -spread
    _DEEP['want'] = want
    _DEEP['rc'] = rcrec
    rcrec = None
    result = by_name = None
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
    return out, _thread_clock() - c0, samples


def _untracked_holders(samples, rcs, found, holders, ctx):
    """For the samples with references not found: the untracked tuples and dicts among
    the referents of tracked objects that hold them, described as holders (found[] and
    holders{} updated). Returns whether the deadline cut it short."""
    want = {}
    for i in _xrange(len(samples)):
        if rcs[i] > found[i]:
            want[id(samples[i])] = i
    if not want:
        return False
    skip = ctx['skip']
    met = {}
    hits = {}       # (sample index, container id) -> [container, references it holds]
    objs = gc.get_objects()
    skip[id(objs)] = 1
    getr = gc.get_referents
    is_tracked = _tracked
    tup = tuple
    dct = dict
    try:
        try:
            for j in _xrange(0, len(objs), 256):
                _in_time(ctx)
                for u in getr(*objs[j:j + 256]):
                    t = type(u)
                    if (t is tup or t is dct) and not is_tracked(u) and id(u) not in met:
                        met[id(u)] = 1
                        for v in getr(u):
                            i = want.get(id(v))
                            if i is not None and v is samples[i]:
                                h = hits.get((i, id(u)))
                                if h is None:
                                    hits[(i, id(u))] = [u, 1]
                                else:
                                    h[1] += 1
        except _WalkCut:
            return True
    finally:
        objs = u = v = None
        met = None
    try:
        for key in hits:
            i = key[0]
            u, k = hits[key]
            found[i] += k
            _add_holder(holders, samples[i], u, k, ctx)
    except _WalkCut:
        return True
    return False

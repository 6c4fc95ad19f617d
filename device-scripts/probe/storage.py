# ---------------------------------------------------------------- storage  (probe/storage.py)
# Bounded device storage (--max-device-mb): what each segment holds (a _Seg: its census
# and sample _Runs, its size), and the thinning that keeps the probe's files under the
# cap: merging small closed segments, then keeping every k-th census or sample record.
# Defines: _SEGS (segment number -> _Seg), the records _Seg, _Run, _Thinned, _NoRoom,
#   _count, _make_room, _rescan, _thin, _blocks, _acct, the byte constants _NL, _EMPTY.
# Uses: base (_S, _xrange, _thread_clock), encoder (_ascii), writer (_W, _queue,
#   _seg_path, _exc_text, _error_allowed).

_NL = _ascii('\n')
_EMPTY = _NL[:0]
_KEY_T = _ascii(',"t":')
_COMMA = _ascii(',')
_BRACE = _ascii('}')
# Thinning (--max-device-mb): per segment number, a _Seg: its census runs, sample runs and
# size. A record's ordinal is its index among all records of its kind the probe wrote.
_SEGS = {}
# Census records closed segments keep before samples are thinned: 16, or fewer when 16
# would take more than a quarter of the cap.
CENSUS_FLOOR = 16
MAX_FACTOR = 1 << 20


class _NoRoom(Exception):
    pass


class _Run(object):
    """Of the records of one kind with ordinals first .. first + count - 1, those whose
    ordinal is a multiple of k are in the segment, in order, and no others."""
    __slots__ = ('first', 'count', 'k')

    def __init__(self, first, count, k):
        self.first = first
        self.count = count
        self.k = k


class _Seg(object):
    """What one segment file holds: its census runs, its sample runs, its size in bytes."""
    __slots__ = ('census', 'sample', 'size')

    def __init__(self):
        self.census = []
        self.sample = []
        self.size = 0


def _runs_of(seg, kind):
    if kind == 'census':
        return seg.census
    return seg.sample


def _set_runs(seg, kind, runs):
    if kind == 'census':
        seg.census = runs
    else:
        seg.sample = runs


class _Thinned(object):
    """What one thinning pass did for one kind and factor: one `thinned` event."""
    __slots__ = ('segs', 'ranges', 'removed', 'kept', 't0', 't1')

    def __init__(self, t0, t1):
        self.segs = []           # segment numbers rewritten
        self.ranges = []         # [first seq, last seq] of the records removed
        self.removed = 0
        self.kept = 0
        self.t0 = t0             # probe t of the first and last record of the kind seen
        self.t1 = t1


def _blocks(size):
    b = _W['blk']
    return ((size + b - 1) // b) * b


def _acct(st):
    return max(_blocks(st.st_size), getattr(st, 'st_blocks', 0) * 512)


def _count(kind, nbytes):
    n = _W['segno']
    seg = _SEGS.get(n)
    if seg is None:
        seg = _Seg()
        _SEGS[n] = seg
    seg.size = _W['size']
    if kind == 'census':
        runs = seg.census
        o = _W['ord_census']
        _W['ord_census'] = o + 1
        _W['census_bytes'] += nbytes
    elif kind == 'sample':
        runs = seg.sample
        o = _W['ord_sample']
        _W['ord_sample'] = o + 1
    else:
        return
    if runs:
        last = runs[-1]
        if last.k == 1 and last.first + last.count == o:
            last.count += 1
            return
    runs.append(_Run(o, 1, 1))


def _make_room(size0, n):
    need = _blocks(size0 + n) - _blocks(size0)
    if not need:
        return
    cap = _W['dev_cap']
    # never once the end is queued: its `thinned` events would come after the end record
    if _W['total'] + need > cap - cap // 4 and not _W['ended'] and time.time() >= _W['stuck_until']:
        _thin(need)
    if _W['total'] + need > cap:
        raise _NoRoom()


def _rescan():
    """What the probe's files take now, read from the directory itself: the host may have
    collected and deleted closed segments."""
    total = 0
    seen = {}
    for name in os.listdir(_W['dir']):
        if not name.startswith('seg-'):
            continue
        base = name
        if name.endswith('.jsonl.tmp'):
            base = name[:-4]
        if len(base) != 16 or not base.endswith('.jsonl') or not base[4:10].isdigit():
            continue
        try:
            st = os.lstat(os.path.join(_W['dir'], name))
        except OSError:
            continue
        total += _acct(st)
        if base == name:
            seen[int(base[4:10])] = st.st_size
    for n in list(_SEGS.keys()):
        if n in seen:
            _SEGS[n].size = seen[n]
        elif n != _W['segno']:
            del _SEGS[n]
    _W['total'] = total


_STAGES = ('merge', 'census', 'merge', 'sample', 'merge', 'census-all', 'merge')


def _thin(need):
    """Make room under --max-device-mb: from 3/4 of the cap down to 1/2 of it, by merging
    small closed segments, thinning their census (every k-th kept, k doubling, the least
    thinned and oldest first) down to CENSUS_FLOOR, then their samples, then the census
    down to the baseline. Start, referrers and events are kept; the open segment too."""
    c0 = _thread_clock()
    try:
        done = {}
        try:
            _rescan()
            cap = _W['dev_cap']
            if _W['total'] + need <= cap - cap // 4:
                return
            skip = {}
            for stage in _STAGES:
                while _W['total'] + need > cap // 2 and _thin_step(stage, done, skip):
                    pass
                if _W['total'] + need <= cap // 2:
                    break
            if _W['total'] + need > cap - cap // 4:
                _W['stuck_until'] = time.time() + 1.0
        except Exception:
            _W['stuck_until'] = time.time() + 1.0
            if _error_allowed():
                _queue('event', ['event', 'probe-error', 'detail', 'thin: ' + _exc_text()], 0)
        _thinned_events(done)
    finally:
        _S['probe_cpu'] += _thread_clock() - c0


def _kept(first, cnt, k):
    """How many multiples of k lie in [first, first + cnt)."""
    if cnt <= 0:
        return 0
    return (first + cnt - 1) // k - (first + k - 1) // k + 1


def _kept_runs(runs, k2):
    """Records the runs would keep at factor k2 (1: how many they hold now)."""
    n = 0
    for r in runs:
        n += _kept(r.first, r.count, max(r.k, k2))
    return n


def _next_factor(runs):
    """The factor a rewrite takes these runs to: the smallest that drops one (or None)."""
    now = 0
    level = None
    for r in runs:
        m = _kept(r.first, r.count, r.k)
        if m:
            now += m
            if level is None or r.k < level:
                level = r.k
    if not now:
        return None
    k2 = 2 * level
    while k2 <= MAX_FACTOR:
        if _kept_runs(runs, k2) < now:
            return k2
        k2 *= 2
    return None


def _thin_step(stage, done, skip):
    """One merge or one segment rewrite; False when this stage has nothing left to do."""
    cur = _W['segno']
    closed = []
    for n in _SEGS:
        if n < cur and n not in skip:
            closed.append(n)
    closed.sort()
    if stage == 'merge':
        for i in _xrange(len(closed) - 1):
            a = _SEGS[closed[i]].size
            b = _SEGS[closed[i + 1]].size
            if a + b <= _W['cap'] and _blocks(a) + _blocks(b) > _blocks(a + b):
                try:
                    _merge(closed[i], closed[i + 1])
                except (_NoRoom, EnvironmentError):
                    skip[closed[i]] = 1       # no room for the copy, or an I/O error
                return True
        return False
    kind = 'census'
    if stage == 'sample':
        kind = 'sample'
    best = None
    for n in closed:
        k2 = _next_factor(_runs_of(_SEGS[n], kind))
        if k2 is not None and (best is None or (k2, n) < best):
            best = (k2, n)
    if best is None:
        return False
    k2, n = best
    if stage == 'census':
        left = 0
        for m in closed:
            left += _kept_runs(_SEGS[m].census, 1)
        runs = _SEGS[n].census
        each = _W['census_bytes'] // max(1, _W['ord_census'])
        floor = max(2, min(CENSUS_FLOOR, _W['dev_cap'] // 4 // max(1, each)))
        if left - _kept_runs(runs, 1) + _kept_runs(runs, k2) < floor:
            return False
    try:
        _rewrite(n, kind, k2, done)
    except (_NoRoom, EnvironmentError):
        skip[n] = 1                           # no room for the copy, or an I/O error
    return True


def _coalesce(runs, k2):
    """The runs after a rewrite to factor k2 (k2 1: after a merge)."""
    out = []
    for r in runs:
        k = max(r.k, k2)
        if not _kept(r.first, r.count, k):
            continue
        if out:
            last = out[-1]
            if last.k == k and last.first + last.count == r.first:
                last.count += r.count
                continue
        out.append(_Run(r.first, r.count, k))
    return out


def _put(fd, data, size):
    """Append data to a file being rebuilt, inside the cap; returns its new size."""
    n = len(data)
    if _W['total'] + _blocks(size + n) > _W['dev_cap']:
        raise _NoRoom()
    done = 0
    while done < n:
        w = os.write(fd, data[done:])
        if w <= 0:
            raise OSError('short write')
        done += w
    return size + n


def _same_file(path, st):
    try:
        st2 = os.stat(path)
    except OSError:
        return False
    return (st2.st_dev, st2.st_ino) == (st.st_dev, st.st_ino)


def _swap(tmp, checks, size):
    """Rename the rebuilt (fsynced) file over the first of checks, the originals' (path,
    stat) pairs (or, when it is empty, remove it), unless the host deleted (or replaced)
    one of the originals meanwhile: never bring a collected segment back."""
    ok = True
    for path, st in checks:
        if not _same_file(path, st):
            ok = False
    dest = checks[0][0]
    try:
        if ok and size == 0:
            os.unlink(dest)
            ok = False
            return True
        if ok:
            os.rename(tmp, dest)
            return True
    finally:
        if not ok:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return False


def _sync_dir():
    try:
        fd = os.open(_W['dir'], os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except Exception:
        pass


def _merge(a, b):
    """Closed segments a < b (adjacent, small) become one file named b: written to
    seg-B.jsonl.tmp, fsynced, renamed over b; then a is removed. The newer name keeps
    them: a collector that fetched a and deletes it loses nothing (b holds a's records
    too, the same seqs), and one that fetched both has everything the merged file has.
    A reader sees each record at least once (a tar taken in between, some twice)."""
    pa = _seg_path(a)
    pb = _seg_path(b)
    tmp = pb + '.tmp'
    fds = []
    fo = -1
    try:
        try:
            for p in (pa, pb):
                fds.append(os.open(p, os.O_RDONLY))
        except OSError:
            _rescan()            # collected by the host meanwhile
            return
        sts = [os.fstat(fds[0]), os.fstat(fds[1])]
        fo = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 420)
        size = 0
        last = _NL
        for i in (0, 1):
            if i == 1 and last != _NL:
                size = _put(fo, _NL, size)   # a torn line stays one (unparseable) line
            while True:
                chunk = os.read(fds[i], 65536)
                if not chunk:
                    break
                size = _put(fo, chunk, size)
                last = chunk[-1:]
        os.fsync(fo)
        f = fo
        fo = -1
        os.close(f)
        if not _swap(tmp, [(pb, sts[1]), (pa, sts[0])], size):
            _rescan()
            return
        try:
            os.unlink(pa)
        except OSError:
            pass
        _sync_dir()
        sa = _SEGS.pop(a)
        sb = _SEGS[b]
        sb.census = _coalesce(sa.census + sb.census, 1)
        sb.sample = _coalesce(sa.sample + sb.sample, 1)
        sb.size = size
        _W['total'] += _blocks(size) - _acct(sts[0]) - _acct(sts[1])
    finally:
        for f in fds:
            os.close(f)
        if fo >= 0:
            os.close(fo)
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _seq_t(line):
    seq = int(line[7:line.find(_COMMA)])
    i = line.find(_KEY_T) + 5
    e = line.find(_COMMA, i)
    if e < 0:
        e = line.find(_BRACE, i)
    return seq, float(line[i:e])


def _ordinals(runs):
    for r in runs:
        k = r.k
        o = ((r.first + k - 1) // k) * k
        end = r.first + r.count
        while o < end:
            yield o
            o += k


def _rewrite(n, kind, k2, done):
    """Closed segment n keeps the `kind` records whose ordinal is a multiple of k2: rebuilt
    as seg-N.jsonl.tmp, fsynced and renamed over it (raises when it cannot)."""
    seg = _SEGS[n]
    path = _seg_path(n)
    tmp = path + '.tmp'
    want = _ascii(',"k":"%s"' % kind)
    it = _ordinals(_runs_of(seg, kind))
    step = getattr(it, 'next', None) or getattr(it, '__next__')
    fi = -1
    fo = -1
    try:
        try:
            fi = os.open(path, os.O_RDONLY)
        except OSError:
            _rescan()            # collected by the host meanwhile
            return
        st = os.fstat(fi)
        fo = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 420)
        dropped = []
        removed = 0
        kept = 0
        t0 = t1 = None
        out = []
        outn = 0
        size = 0
        rest = _EMPTY
        while True:
            chunk = os.read(fi, 16384)
            if not chunk:
                break
            if rest:
                chunk = rest + chunk
            lines = chunk.split(_NL)
            rest = lines.pop()
            chunk = None
            for line in lines:
                if line.find(want, 0, 48) > 0:
                    seq, t = _seq_t(line)
                    if t0 is None:
                        t0 = t
                    t1 = t
                    try:
                        mine = step()
                    except StopIteration:
                        mine = 0          # more than the runs say: keep them
                    if mine % k2:
                        removed += 1
                        if dropped and dropped[-1][1] + 1 == seq:
                            dropped[-1][1] = seq      # [first, last]: the range grows
                        else:
                            dropped.append([seq, seq])
                        continue
                    kept += 1
                out.append(line)
                out.append(_NL)
                outn += len(line) + 1
                if outn >= 16384:
                    size = _put(fo, _EMPTY.join(out), size)
                    out = []
                    outn = 0
        if rest:
            out.append(rest)
        if out:
            size = _put(fo, _EMPTY.join(out), size)
        out = lines = None
        if not removed:
            _set_runs(seg, kind, _coalesce(_runs_of(seg, kind), k2))   # all left are k2-th already
            return
        os.fsync(fo)
        f = fo
        fo = -1
        os.close(f)
        if not _swap(tmp, [(path, st)], size):
            _rescan()
            return
        _sync_dir()
    finally:
        if fi >= 0:
            os.close(fi)
        if fo >= 0:
            os.close(fo)
            try:
                os.unlink(tmp)
            except OSError:
                pass
    _set_runs(seg, kind, _coalesce(_runs_of(seg, kind), k2))
    seg.size = size
    if not size:
        del _SEGS[n]             # nothing was left in it: removed
    _W['total'] += _blocks(size) - _acct(st)
    d = done.get((kind, k2))
    if d is None:
        d = _Thinned(t0, t1)
        done[(kind, k2)] = d
    d.segs.append(n)
    d.ranges.extend(dropped)
    d.removed += removed
    d.kept += kept
    d.t0 = min(d.t0, t0)
    d.t1 = max(d.t1, t1)


def _thinned_events(done):
    """One `thinned` event per kind and factor of a thinning pass: exactly which seqs went."""
    keys = list(done.keys())
    keys.sort()
    for key in keys:
        kind, k = key
        d = done[key]
        d.segs.sort()
        d.ranges.sort()
        merged = []                  # [first, last] seq ranges, overlapping ones joined
        for first, last in d.ranges:
            if merged and merged[-1][1] + 1 >= first:
                merged[-1][1] = max(merged[-1][1], last)
            else:
                merged.append([first, last])
        compact = []                 # a lone seq as a number, a run as [first, last]
        for r in merged:
            if r[0] == r[1]:
                compact.append(r[0])
            else:
                compact.append(r)
        detail = '%s thinned to 1/%d between t=%.3f and t=%.3f: %d removed' % (
            kind, k, d.t0, d.t1, d.removed)
        _queue('event', ['event', 'thinned', 'detail', detail, 'kind', kind, 'factor', k,
                         'segments', d.segs, 'span', [d.t0, d.t1], 'removed', d.removed,
                         'kept', d.kept, 'dropped', compact], 0)

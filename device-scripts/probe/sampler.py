# ---------------------------------------------------------------- sampler  (probe/sampler.py)
# The sampler thread: cheap samples (RSS, gc counts, watched refcounts) every interval,
# and the census cadence (a CPU budget, front-loaded, paced by the app's marks).
# Defines: start_sampler, stop_sampler, sample, memory_kib, watch_snapshot, _read_proc,
#   _spend, _work (the lock held while sampling or taking a census).
# Uses: base, writer (emit, probe_error), census (census, _STATE), api (marks_snapshot,
#   _mark_next, _mark_pairs, _WATCHES).

_wake = _lowthread.allocate_lock()   # held until the sampler is told to stop
_work = _lowthread.allocate_lock()   # held by whoever samples or takes a census
_done = _lowthread.allocate_lock()   # held while the sampler thread runs
_TIMED_LOCKS = sys.version_info[:2] >= (3, 2)


def _sleep_unless_woken(seconds):
    """Sleep up to `seconds`; return early once stop_sampler() has been called."""
    if _TIMED_LOCKS:
        if _wake.acquire(True, seconds):
            _wake.release()
        return
    end = time.time() + seconds
    while not _S['stopped']:
        left = end - time.time()
        if left <= 0:
            return
        time.sleep(min(left, 0.05))


def _read_proc(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while True:
            b = os.read(fd, 4096)
            if not b:
                break
            chunks.append(b)
    finally:
        os.close(fd)
    if PY3:
        return ''.join([c.decode('ascii', 'replace') for c in chunks])
    return ''.join(chunks)


def memory_kib():
    """(rss, peak, /proc/self/status text): KiB, None when /proc is unreadable."""
    rss = None
    peak = None
    status = ''
    try:
        rss = int(_read_proc('/proc/self/statm').split()[1]) * _S['page_kib']
    except Exception:
        pass
    try:
        status = _read_proc('/proc/self/status')
        for line in status.split('\n'):
            if line.startswith('VmHWM:'):
                peak = int(line.split()[1])
                break
    except Exception:
        pass
    return rss, peak, status


def _watch_rc(e):
    if e[3]:
        o = e[1]
    else:
        o = e[1]()
    if o is None:
        return None
    return _grc(o)


def watch_snapshot():
    out = []
    for e in list(_WATCHES):
        rc = _watch_rc(e)
        if rc is not None:
            if e[3]:
                rc -= _S['off_strong']
            else:
                rc -= _S['off_weak']
        out.append([e[0], rc, e[2]])
    return out


def _thread_count(status):
    """Threads of the process (from /proc: native ones too), the sampler included."""
    for line in status.split('\n'):
        if line.startswith('Threads:'):
            return int(line.split()[1])
    threading = sys.modules.get('threading')
    if threading is None:
        return 2
    f = getattr(threading, 'active_count', None) or getattr(threading, 'activeCount')
    return f() + 1


def sample():
    t0 = _thread_clock()
    rss, peak, status = memory_kib()
    cpu = os.times()
    fields = ['rss', rss, 'peak', peak, 'gc', list(gc.get_count()),
              'marks', marks_snapshot(), 'cpu', [round(cpu[0], 3), round(cpu[1], 3)]]
    watch = watch_snapshot()
    threads = _thread_count(status)
    if _S.get('ci_ours'):
        _check_interval_watch(threads)
    spent = _thread_clock() - t0
    _S['probe_cpu'] += spent
    _S['spent'] += spent      # samples are paid from the census budget too
    fields.extend(['probeCpu', round(_S['probe_cpu'], 6), 'threads', threads, 'watch', watch])
    emit('sample', fields)


def _check_interval_start():
    """Python 2 only: once any second thread exists, the interpreter releases and
    retakes the GIL every 100 bytecodes, which costs a CPU-bound app about 9 %. While
    the sampler is the app's only other thread, a check interval of 1000 makes that
    about 1 %; it goes back to the app's value as soon as the app starts a thread of
    its own or sets the interval itself (signals are still handled at once)."""
    if PY3 or not hasattr(sys, 'setcheckinterval'):
        return
    saved = sys.getcheckinterval()
    if saved >= 1000:
        return
    _S['ci_saved'] = saved
    _S['ci_ours'] = 1000
    sys.setcheckinterval(1000)


def _check_interval_watch(threads):
    if threads > 2 or sys.getcheckinterval() != _S['ci_ours']:
        _check_interval_stop()


def _check_interval_stop():
    ours = _S.get('ci_ours')
    if ours:
        _S['ci_ours'] = None
        if sys.getcheckinterval() == ours:
            sys.setcheckinterval(_S['ci_saved'])


def _sampler_main():
    try:
        try:
            _sampler_loop()
        except:
            pass
    finally:
        _done.release()


# census cadence: a bucket of CPU-second tokens fills at the budget (2 % of the wall
# clock by default) up to a small cap; a census needs its measured cost in tokens. The
# bucket starts with a start-up allowance, so the first FAST_CENSUSES come every
# FAST_GAP seconds and a short run still gets its censuses; afterwards censuses come at
# the budget's pace, and faster (from what the bucket saved) while a type keeps rising
# census after census, until it is decided. When the app marks, a due census is taken at
# its next mark, in its own thread (the end of one iteration: no half-built frame in the
# counts, the cyclic garbage collected first); without marks the sampler takes it.
ALLOWANCE = 0.09       # CPU seconds: at most 5 % of a 3-second run with the budget's 2 %
FAST_CENSUSES = 10
FAST_GAP = 0.1         # seconds between censuses while fast or while a type is undecided
CENSUS_SPREAD = 0.25    # the longest gap between censuses, as a share of the run so far
MARK_WAIT_MAX = 5.0    # seconds to wait for a mark before taking a due census anyway
REPAY = 30.0           # seconds over which the allowance is paid back from the budget


def _cadence_start():
    now = time.time()
    _S['cad_t0'] = now
    # what the baseline census spent stays spent: the budget holds over the run as a whole
    _S['fast'] = FAST_CENSUSES
    _S['mark_t'] = now


def _refill(now):
    """Tokens now: the budget's share of the time since the start, plus the start-up
    allowance (repaid over the first REPAY seconds, so a run of that length or longer
    keeps to the budget as a whole), minus what censuses spent; at most a few censuses'
    worth saved (what is beyond that is forfeited)."""
    el = max(0.0, now - _S['cad_t0'])
    allowed = _S['budget'] * el + ALLOWANCE * max(0.0, 1.0 - el / REPAY)
    t = allowed - _S['spent']
    cap = max(ALLOWANCE, 4 * _S['cost'])
    if t > cap:
        _S['spent'] += t - cap
        t = cap
    _S['tokens'] = t


def _spend(spent):
    _S['spent'] += spent
    if _S['cost'] <= 0:
        _S['cost'] = spent
    else:
        _S['cost'] = 0.5 * _S['cost'] + 0.5 * spent
    _S['last_census'] = time.time()
    if _S['fast'] > 0:
        _S['fast'] -= 1


def _census_due(now):
    """Seconds until the next census may run (0: now)."""
    _refill(now)
    cost = _S['cost']
    budget = _S['budget']
    if _S['fast'] > 0 or _S['growing']:
        gap = FAST_GAP
    else:
        gap = cost / budget
    wait = _S['last_census'] + gap - now
    short = cost - _S['tokens']
    if short > 0:
        # however short the tokens, the points spread over the run: the gap never grows
        # past CENSUS_SPREAD of the run so far (a short 2.7 run's early referrer passes
        # silenced the census for its last 75 %, and 5 points in the first quarter of a
        # saw-tooth read as steady growth); such censuses come at geometric intervals, a
        # few dozen over a day
        cap = max(gap, CENSUS_SPREAD * (now - _S['t0']))
        wait = max(wait, min(short / budget, _S['last_census'] + cap - now))
    return max(0.0, wait)


def _watch_marks(now):
    """Follow the marks' pace; return the busiest mark name while marks flow, else None."""
    snap = marks_snapshot()
    total = 0
    best = None
    for name in snap:
        total += snap[name]
        if best is None or snap[name] > snap[best]:
            best = name
    d = total - _S['mark_total']
    if d > 0:
        period = (now - _S['mark_t']) / d
        if _S['mark_period'] <= 0:
            _S['mark_period'] = period
        else:
            _S['mark_period'] = 0.5 * _S['mark_period'] + 0.5 * period
        _S['mark_total'] = total
        _S['mark_t'] = now
        return best
    if best is not None and now - _S['mark_t'] < max(1.0, 3 * _S['mark_period']):
        return best
    return None


def _mark_wait():
    return min(MARK_WAIT_MAX, max(0.5, 3 * _S['mark_period']))


def _arm(name):
    """Take the next census at the next mark(name), in the app's thread."""
    pair = _mark_pairs.get(name)
    if pair is None:
        return False
    fast = pair[1]
    token = _S['armed'] + 1

    def trigger():
        _mark_next[name] = fast
        fast()
        _census_at_mark(token)
    _S['armed'] = token
    _S['armed_at'] = time.time()
    _S['armed_name'] = name
    _S['armed_fast'] = fast
    _mark_next[name] = trigger
    return True


def _disarm():
    name = _S.get('armed_name')
    if name is not None:
        _mark_next[name] = _S['armed_fast']
    _S['armed_name'] = None
    _S['armed_fast'] = None
    _S['armed'] += 1


def _census_at_mark(token):
    if token != _S['armed'] or os.getpid() != _S['pid']:
        return
    if not _work.acquire(False):
        return           # the sampler is busy: it will see the census still due
    try:
        if _S['stopped'] or token != _S['armed']:
            return
        _S['armed_name'] = None
        _S['armed'] += 1
        paused = narrow_pause()
        try:
            census(True)
        except Exception:
            probe_error('census')
        if paused:
            narrow_resume()
    finally:
        _work.release()


def _sampler_loop():
    interval = _S['interval']
    next_at = time.time() + interval
    _cadence_start()
    while True:
        now = time.time()
        wake = next_at
        if _S['armed_name'] is not None:
            # the app's thread takes the census: look again soon, to arm the next one
            wake = min(wake, _S['armed_at'] + _mark_wait(), now + FAST_GAP / 4)
        else:
            wake = min(wake, now + _census_due(now))
        wait = wake - now
        if wait > 0:
            _sleep_unless_woken(wait)
        if _S['stopped'] or os.getpid() != _S['pid']:
            return
        _work.acquire()
        try:
            if _S['stopped']:
                return
            now = time.time()
            if now >= next_at:
                try:
                    sample()
                except Exception:
                    probe_error('sample')
                next_at += interval
                if next_at < now:
                    next_at = now + interval
            try:
                _census_step(now)
            except Exception:
                probe_error('census')
        finally:
            _work.release()


def _census_step(now):
    """In the sampler, with _work held: arm a due census at the next mark, or take it."""
    name = _watch_marks(now)
    if _S['armed_name'] is not None:
        if now - _S['armed_at'] < _mark_wait():
            return
        _disarm()        # no mark came: take it by time
        census()
        return
    if _census_due(now) > 0:
        return
    if name is not None and _arm(name):
        return
    census()


def _quiet_fork_warning():
    # 3.12+ warns on fork() in a multi-threaded process; the sampler is a thread the
    # app did not start, so that warning is the probe's, not the app's.
    if sys.version_info[:2] >= (3, 12):
        # exact-text filters in the C warnings list: no `warnings` import needed
        import _warnings
        for fn in ('fork', 'forkpty'):
            text = ('This process (pid=%d) is multi-threaded, use of %s() may lead to '
                    'deadlocks in the child.' % (os.getpid(), fn))
            _warnings.filters.insert(0, ('ignore', text, DeprecationWarning, None, 0))
        f = getattr(_warnings, '_filters_mutated', None)
        if f is not None:
            f()


def start_sampler():
    """Start the sampler: a daemon thread named refscope-sampler when the interpreter
    already loaded `threading`, else a bare low-level thread (no 600 KiB import)."""
    _quiet_fork_warning()
    _wake.acquire()
    _done.acquire()
    threading = sys.modules.get('threading')
    if threading is not None:
        t = threading.Thread(target=_sampler_main, name='refscope-sampler')
        if hasattr(threading.Thread, 'daemon'):
            t.daemon = True
        else:
            t.setDaemon(True)
        _STATE['thread'] = t
        t.start()
    else:
        _lowthread.start_new_thread(_sampler_main, ())
    _STATE['started'] = True
    _check_interval_start()


def stop_sampler():
    """Stop the sampler between two of its steps and wait for it to go."""
    if not _STATE.get('started'):
        return
    _check_interval_stop()
    _work.acquire()
    try:
        _S['stopped'] = True
        _wake.release()
    finally:
        _work.release()
    if _TIMED_LOCKS:
        got = _done.acquire(True, 2.0)
    else:
        end = time.time() + 2.0
        got = _done.acquire(False)
        while not got and time.time() < end:
            time.sleep(0.002)
            got = _done.acquire(False)
    if got:
        _done.release()

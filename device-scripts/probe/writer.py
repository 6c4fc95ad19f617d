# ---------------------------------------------------------------- writer  (probe/writer.py)
# Records into rotating segment files: emit() gives each its seq and writes it whole (or
# queues it while there is no room), reports lost and late records, and rate-limits the
# probe's own errors (probe_error).
# Defines: _W (the writer's state), emit, probe_error, _queue, _flush, _open_segment,
#   _close_segment, _seg_path, _record_line, _rotates, _exc_text, _error_allowed.
# Uses: base (_S, _lowthread, _errno, _fcntl, _xrange), encoder (encode, _ascii),
#   storage (_make_room, _count, _blocks, _NoRoom: only when --max-device-mb is set).

_wlock = _lowthread.allocate_lock()
_W = {'dir': None, 'fd': -1, 'ident': None, 'segno': 0, 'size': 0, 'cap': 1024 * 1024,
      'seq': 0, 'written': 0, 'failed': 0, 'fail_detail': None, 'rotate': False,
      # records not written yet (oldest first): the filesystem is full, or the cap
      'q': [], 'qbytes': 0, 'full_since': None, 'full_reason': None, 'full_detail': None,
      'held': 0, 'full_lost': 0,
      # --max-device-mb: the cap (0: none), what the probe's files take (bytes in whole
      # filesystem blocks, as du counts them), census and sample ordinals written so far
      'dev_cap': 0, 'total': 0, 'blk': 4096, 'stuck_until': 0.0,
      'ord_census': 0, 'ord_sample': 0, 'census_bytes': 0,
      # the end record is queued: nothing is written after it, and nothing thinned
      'ended': False}
# At most this many bytes of records wait in memory for room; beyond it the oldest go.
HOLD_BYTES = 32 * 1024
_FULL_ERRNOS = (_errno.ENOSPC, getattr(_errno, 'EDQUOT', _errno.ENOSPC))


def _seg_path(n):
    return os.path.join(_W['dir'], 'seg-%06d.jsonl' % n)


def _open_segment(n):
    path = _seg_path(n)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 420)
    if fd < 3 and _fcntl is not None:
        # never sit on 0/1/2: an app that closed them would reopen them onto us
        fd2 = _fcntl.fcntl(fd, _fcntl.F_DUPFD, 10)
        os.close(fd)
        fd = fd2
    if _fcntl is not None:
        try:
            _fcntl.fcntl(fd, _fcntl.F_SETFD, _fcntl.FD_CLOEXEC)
        except (IOError, OSError):
            pass
    st = os.fstat(fd)
    _W['fd'] = fd
    _W['ident'] = (st.st_dev, st.st_ino)
    _W['segno'] = n
    _W['size'] = st.st_size
    _W['rotate'] = False


def _close_segment():
    fd = _W['fd']
    _W['fd'] = -1
    if fd >= 0:
        try:
            os.close(fd)
        except OSError:
            pass


def _fd_is_ours():
    fd = _W['fd']
    if fd < 0:
        return False
    try:
        st = os.fstat(fd)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == _W['ident']


def _rotates(n):
    """Whether a record of n bytes goes to a new segment (it does not fit in this one)."""
    return _W['rotate'] or (_W['size'] > 0 and _W['size'] + n > _W['cap'])


def _write_line(data, kind):
    """Write one record line whole, or raise (a torn line is cut back off)."""
    n = len(data)
    if _rotates(n):
        _close_segment()
        _open_segment(_W['segno'] + 1)
    elif not _fd_is_ours():
        # the app closed (or reused) our descriptor: reopen our segment by name
        _W['fd'] = -1
        _open_segment(_W['segno'])
    size0 = _W['size']
    if _W['dev_cap']:
        _make_room(size0, n)
    fd = _W['fd']
    done = 0
    try:
        while done < n:
            w = os.write(fd, data[done:])
            if w <= 0:
                raise OSError('short write')
            done += w
    except:
        e = sys.exc_info()[1]
        if done:
            try:
                os.ftruncate(fd, size0)       # no torn line left behind
            except Exception:
                _W['size'] = size0 + done
                _W['total'] += _blocks(size0 + done) - _blocks(size0)
                _W['rotate'] = True
        if size0 + done > 0 and getattr(e, 'errno', None) not in _FULL_ERRNOS:
            _W['rotate'] = True               # e.g. EFBIG: a new file may take it
        raise
    _W['size'] = size0 + n
    if _W['dev_cap']:
        _W['total'] += _blocks(size0 + n) - _blocks(size0)
        _count(kind, n)


def _record_line(seq, kind, fields):
    t = time.time() - _S['t0']
    parts = ['{"seq":%d,"k":"%s","t":%s' % (seq, kind, encode(round(t, 6)))]
    for i in _xrange(0, len(fields), 2):
        parts.append(',"%s":' % fields[i])
        parts.append(encode(fields[i + 1]))
    parts.append('}\n')
    return ''.join(parts)


def emit(kind, fields):
    """Write one record (fields: flat [key, value, ...] list, written in order).
    Never raises; a failed write is reported by the next record that gets out. Once the
    end record is queued nothing more is (an app thread or atexit handler still running):
    the end is always the last record."""
    if os.getpid() != _S['pid'] or _W['dir'] is None or _W['ended']:
        return False
    _wlock.acquire()
    try:
        if _W['ended']:
            return False
        if kind == 'end':
            fields = _before_end(fields)
            _W['ended'] = True
        elif not _W['q']:
            _report_failures()
        _queue(kind, fields, 0)
        _flush()
        return not _W['q']
    finally:
        _wlock.release()


def _before_end(fields):
    """Write what must come before the end record: the records still waiting for room, the
    report of earlier losses, and the thinning that writing the end would set off (with its
    `thinned` events); the end itself then thins nothing (see _make_room). Returns the end's
    fields with `records` added."""
    _W['stuck_until'] = 0.0              # a last try at making room
    _flush()
    if not _W['q']:
        _report_failures()
        _flush()
    if _W['dev_cap'] and not _W['q']:
        # room for the end as _write_line will write it: in a new segment when it does
        # not fit in this one (a margin for its `t` and `records`)
        try:
            n = len(_record_line(_W['seq'], 'end', fields + ['records', _W['seq'] + 1])) + 64
            size0 = _W['size']
            if _rotates(n):
                size0 = 0
            _make_room(size0, n)
        except Exception:
            pass
        _flush()
    return fields + ['records', _W['written'] + len(_W['q']) + 1]


def _queue(kind, fields, reports):
    """Give the record its seq and put it at the end of the write queue. reports: for a
    write-failed event, how many losses it reports; -1 for a disk-full event."""
    seq = _W['seq']
    _W['seq'] = seq + 1
    line = None
    interrupt = None
    while line is None:
        try:
            line = _ascii(_record_line(seq, kind, fields))
        except Exception:
            if not _error_allowed():
                _W['seq'] = seq      # nothing queued: its seq goes to the next record
                return
            kind = 'event'
            reports = 0
            line = _ascii(_record_line(seq, 'event', ['event', 'probe-error', 'detail',
                                                      'encode %s: %s' % (kind, _exc_text())]))
        except BaseException:
            # the app's signal handler raised in its thread (KeyboardInterrupt on the SIGINT
            # that stops a soak) while a census at its mark built this line: the seq is
            # taken, so the record still goes out, and the interrupt goes on to the app
            interrupt = sys.exc_info()[1]
    _W['q'].append((kind, line, reports))
    _W['qbytes'] += len(line)
    if interrupt is not None:
        raise interrupt


def _flush():
    """Write queued records in order until one finds no room (it waits for the next try)."""
    q = _W['q']
    while q:
        kind, line, reports = q[0]
        r = _write_entry(kind, line)
        if r == 'full':
            break
        del q[0]
        _W['qbytes'] -= len(line)
        if r == 'ok':
            _W['written'] += 1
            if reports > 0:
                _W['failed'] -= reports
            if _W['full_since'] is not None:
                _W['held'] += 1
        else:
            _W['failed'] += 1
    # too much waiting: the oldest go, except start and the reports of earlier losses
    i = 0
    while _W['qbytes'] > HOLD_BYTES and i < len(q) - 1:
        if q[i][0] == 'start' or q[i][2]:
            i += 1
            continue
        _W['qbytes'] -= len(q[i][1])
        del q[i]
        _W['full_lost'] += 1


def _write_entry(kind, line):
    """'ok'; 'full' (no room now: keep it queued); 'lost' (any other failure)."""
    try:
        _write_line(line, kind)
        return 'ok'
    except _NoRoom:
        _note_full('max-device-mb', 'the --max-device-mb cap is reached and nothing is left to thin')
        return 'full'
    except Exception:
        e = sys.exc_info()[1]
        code = getattr(e, 'errno', None)
        if code in _FULL_ERRNOS:
            _note_full(_errno.errorcode.get(code, 'ENOSPC'), _exc_text())
            return 'full'
        _W['fail_detail'] = _exc_text()
        return 'lost'


def _note_full(reason, detail):
    if _W['full_since'] is None:
        _W['full_since'] = round(time.time() - _S['t0'], 3)
        _W['full_reason'] = reason
        _W['full_detail'] = detail


def _report_failures():
    # the queue is empty again: say what happened, before the next record
    since = _W['full_since']
    if since is not None:
        now = round(time.time() - _S['t0'], 3)
        held = _W['held']
        lost = _W['full_lost']
        reason = _W['full_reason']
        detail = ('no room for records from t=%.3f to t=%.3f (%s): %d held in memory and '
                  'written late, %d lost' % (since, now, _W['full_detail'], held, lost))
        _W['full_since'] = None
        _W['held'] = 0
        _W['full_lost'] = 0
        _queue('event', ['event', 'disk-full', 'detail', detail, 'reason', reason,
                         'since', since, 'until', now, 'held', held, 'lost', lost], -1)
    n = _W['failed']
    if n > 0:
        _queue('event', ['event', 'write-failed', 'detail',
                         '%d record(s) lost: %s' % (n, _W['fail_detail'])], n)


def _exc_text():
    e = sys.exc_info()
    try:
        msg = str(e[1])
    except Exception:
        msg = '?'
    name = getattr(e[0], '__name__', '?')
    if msg:
        return '%s: %s' % (name, msg)
    return name


def _error_allowed():
    """Rate limit for probe-error events: 10 a minute."""
    now = time.time()
    if now - _S['err_window'] > 60.0:
        _S['err_window'] = now
        _S['err_count'] = 0
    _S['err_count'] += 1
    if _S['err_count'] > 10:
        _S['err_dropped'] += 1
        return False
    return True


def probe_error(where):
    """Record the current exception as a probe-error event (rate-limited)."""
    try:
        if not _error_allowed():
            return
        detail = '%s: %s' % (where, _exc_text())
        if _S['err_dropped']:
            detail = '%s (%d earlier errors not recorded)' % (detail, _S['err_dropped'])
            _S['err_dropped'] = 0
        emit('event', ['event', 'probe-error', 'detail', detail])
    except Exception:
        pass

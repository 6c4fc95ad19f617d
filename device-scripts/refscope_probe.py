# refscope_probe.py -- the refscope device probe.
#
#   python refscope_probe.py [--out DIR] [--interval S] [--census-budget FRACTION]
#                            [--watch-type NAME]... [--segment-kib N] [--max-device-mb MB]
#                            -- script.py ARGS...
#   python refscope_probe.py [options] -- -m module ARGS...
#
# Runs the app in this process exactly as `python script.py ARGS` would, and writes
# what it sees as records (docs/protocol.md, refscope.records/1) into rotating segment
# files under DIR. One file, standard library only, CPython 2.5 to 3.13: keep to the
# 2.5 subset (DESIGN.md section 4; test/lint/py25_lint.py checks it).
#
# Layout: this short loader, then the probe itself as one string, which reads top to
# bottom like any module: base, encoder, writer, storage, census, referrers, sizes,
# sampler, app-side API, runner and main. Why a string: compiling ~1500 lines of Python
# costs the interpreter 1.5 MB (2.7) to 4 MB (3.11) of heap that it never gives back,
# eight times the probe's whole memory budget (512 KiB). As a string it costs one token;
# the loader compiles it in a forked child and loads the marshalled code (about 80 KB).
# Tracebacks and the lint (test/lint/py25_lint.py lints the string too) give line
# numbers of this file; each part starts with a `# ---- name` line naming its source.
#
# Authored as modules: this file is assembled from device-scripts/probe/ (loader.py is
# this loader, the other modules the string's parts) by `node device-scripts/assemble.mjs`
# (npm run build:probe). Edit those, assemble, and commit both; the build checks that
# they agree.

import sys
import os
import marshal


# glibc's malloc raises its mmap threshold (128 KiB at start) to the size of any big block it
# has unmapped: after the probe's first big temporary block (gc.get_objects()'s list, the deep
# census's table) the next ones come from the heap, and once freed they stay resident as heap
# the app fills before it needs more. RSS, which the verdict reads, then moves in steps of the
# probe's making: a clean app's jumps once mid-run, and a leaking one's stays flat while the
# leak fills the hole, then jumps by the probe's block. Pinned at its default (which also turns
# off the raising), a big block goes back to the system when freed, the app's as before its
# first big free. glibc reads it once, as malloc starts: the probe starts again with it in
# the environment (exec: same pid, same argv, same files) and takes it back out before the
# app runs, so the app and its children see their own environment. Left alone when the user
# set it (or glibc's tunables for it), on other C libraries, or with REFSCOPE_MALLOC=keep.
_MMAP_VAR = 'MALLOC_MMAP_THRESHOLD_'
_PINNED_VAR = 'REFSCOPE_MALLOC_PINNED'


def _unset(env, names):
    for k in names:
        if k in env:
            del env[k]


def _glibc():
    """Whether the C library is glibc (others ignore the variable)."""
    try:
        v = os.confstr('CS_GNU_LIBC_VERSION')
    except ValueError:
        v = os.confstr(2)       # Python 2 does not know the name: glibc's _CS_GNU_LIBC_VERSION
    return bool(v) and v.startswith('glibc')


def _pin_malloc():
    env = os.environ
    if env.get(_PINNED_VAR) == '1':
        _unset(env, (_PINNED_VAR, _MMAP_VAR))
        return
    if (__name__ != '__main__' or not sys.platform.startswith('linux') or '--' not in sys.argv
            or not sys.executable or _MMAP_VAR in env or env.get('REFSCOPE_MALLOC') == 'keep'
            or 'mmap_threshold' in env.get('GLIBC_TUNABLES', '')):
        return
    try:
        if not _glibc():
            return
        env[_MMAP_VAR] = '131072'
        env[_PINNED_VAR] = '1'
        os.execv(sys.executable, [sys.executable] + sys.argv)
    except Exception:
        pass
    _unset(env, (_PINNED_VAR, _MMAP_VAR))     # not pinned: the probe runs as it is


_pin_malloc()

_BODY_LINE = sys._getframe().f_lineno + 2     # the body's first line in this file
r'''
# ---------------------------------------------------------------- base  (probe/base.py)
# The body's first part: imports, version facts, constants, the interpreter's type
# objects the probe tells apart, the probe's mutable state _S, and _thread_clock().
# Every later module uses these names (the body is compiled as one module: they share
# its globals). It uses nothing of theirs. _type_attr reads a class's attributes without
# running a metaclass's hooks.

import sys
import os
import gc
import time
import itertools
import errno as _errno
try:
    import _thread as _lowthread    # `threading` costs 600 KiB: imported only if the app has it
except ImportError:
    import thread as _lowthread
import _weakref

_RUN_AS_MAIN = (__name__ == '__main__')
# Warnings raised by the probe's own code must not be shown as if from the app's
# __main__ (DeprecationWarning is shown there by default on 3.7+).
__name__ = 'refscope_probe'
_SELF_MODULE = sys.modules.get('__main__')
_G = globals()
_PROBE_FILE = sys._getframe().f_code.co_filename

PROBE_VERSION = '0.1.0'
SCHEMA = 'refscope.records/1'
PY3 = sys.version_info[0] >= 3
PY25 = sys.version_info[:2] == (2, 5)
# Refcounts at or above this are immortal objects (3.12+: 2**32-1 on 64-bit builds,
# 2**30-1 on 32-bit ones): counted, but left out of refcount sums.
IMMORTAL_MIN = 1 << 29
REFERRER_PERIOD = 30.0
# CPU seconds the referrer walks after one census may take: checked inside each walk
# (before every heap scan, between holders), so one type's walk cannot outlast it either.
REFERRER_MAX = 2.0
# ... and wall seconds: on a busy machine a walk's own CPU grows slowly while it holds the
# GIL against the app's thread (2.7: a 2-s CPU walk took 25 s of wall time, the app crawling)
REFERRER_WALL = 3 * REFERRER_MAX
MAX_WATCHES = 1000

try:
    _unicode = unicode
except NameError:
    _unicode = str
try:
    _long = long
except NameError:
    _long = int
_bytes = type(''.encode('ascii'))
try:
    _xrange = xrange
except NameError:
    _xrange = range
try:
    import fcntl as _fcntl
except ImportError:
    _fcntl = None

_grc = sys.getrefcount
_weakref_ref = _weakref.ref


class _OldStyle:                  # old-style on Python 2 only
    def method(self):
        pass


def _gen():
    yield 1


if PY3:
    _InstanceType = None
    _ClassType = None
else:
    _InstanceType = type(_OldStyle())
    _ClassType = type(_OldStyle)
_FrameType = type(sys._getframe())
_MethodType = type(_OldStyle().method)
_GenType = type(_gen())
_FunctionType = type(_gen)
# The interpreter's own attribute descriptors (C): a getset (a class's __dict__) and a
# member (a slot); `type`'s namespace, to read a class's attributes as `type` defines them.
_TYPE_NS = type.__dict__
_GetSetType = type(_TYPE_NS['__dict__'])
_MemberType = type(_TYPE_NS['__basicsize__'])



def _type_attr(t, name, default=None):
    """Attribute `name` of class t read through `type`'s own descriptor, so no hook of
    its metaclass runs (t.__name__ could run the app's __getattribute__); an old-style
    class's (2.x) C attribute; default when t is no class or has no such attribute."""
    tt = type(t)
    try:
        if issubclass(tt, type):
            d = _TYPE_NS.get(name)
            if d is not None:
                return d.__get__(t, tt)
        elif tt is _ClassType:
            return getattr(t, name, default)
    except Exception:
        pass
    return default


# Mutable probe state (a dict of plain values: untracked by the gc on 2.7+).
_S = {
    'pid': os.getpid(), 't0': time.time(), 'stopped': False, 'probe_cpu': 0.0, 'ref_wall': 0.0,
    'censuses': 0, 'interval': 1.0, 'budget': 0.02,
    # census cadence (see "census cadence" below): CPU-second tokens, the last census's
    # cost and time, fast censuses left, the armed mark trigger, the marks' pace
    'tokens': 0.0, 'cad_t0': 0.0, 'spent': 0.0, 'cost': 0.0, 'last_census': 0.0, 'fast': 0,
    'armed': 0, 'armed_at': 0.0, 'mark_total': 0, 'mark_t': 0.0, 'mark_period': 0.0,
    'growing': 0, 'armed_name': None, 'armed_fast': None,
    'err_window': 0.0, 'err_count': 0, 'err_dropped': 0,
    'off_census': 3, 'off_weak': 2, 'off_strong': 3, 'off_sample': 3, 'off_deep': 3,
    'cgen': 0, 'off_locals': 1, 'off_init': 1, 'off_init_old': 1, 'off_ret': 2,
}


def _wall_clock():
    """This thread's CPU seconds where the interpreter can tell, else wall time (see
    _thread_clock below). (The app keeps running between the census's bytecodes: wall time
    would charge the probe for the app's work.)"""
    return time.time()


_thread_clock = None
if hasattr(time, 'thread_time'):
    _thread_clock = time.thread_time
elif hasattr(time, 'clock_gettime') and hasattr(time, 'CLOCK_THREAD_CPUTIME_ID'):
    def _thread_clock():
        return time.clock_gettime(time.CLOCK_THREAD_CPUTIME_ID)
else:
    try:
        # Python 2 on Linux 2.6.26+: this thread's own CPU (RUSAGE_THREAD). The process's
        # clock would charge the probe for the app: 2.x hands the GIL to the app's thread
        # every 100 bytecodes, so a census's wall time is shared with it (a census taken
        # while a 200 000-object app was still building counted 1.4 s and silenced the
        # cadence for the rest of a 23 s run).
        import resource as _resource
        _getrusage = _resource.getrusage
        _getrusage(1)

        def _thread_clock():
            r = _getrusage(1)
            return r[0] + r[1]
    except Exception:
        _thread_clock = None
if _thread_clock is None and not PY3 and hasattr(time, 'clock'):
    # an older kernel: the process's CPU time (glibc clock()). It counts the app's share
    # of a census's time too (the GIL changes hands), but unlike wall time a loaded machine
    # does not charge the probe for waiting for a core.
    _thread_clock = time.clock
if _thread_clock is None:
    _thread_clock = _wall_clock


# ---------------------------------------------------------------- encoder  (probe/encoder.py)
# The records' JSON encoder (Python 2.5 has no json): ASCII out, \uXXXX escapes, so the
# bytes are the same on 2.x and 3.x.
# Defines: encode(v), _ascii(text) (to what os.write takes), _enc, _enc_str, _ESC.
# Uses (base): PY3, _unicode, _long, _bytes.

_ESC = {}                         # code point -> escape, for str.translate
for _i in range(32):
    _ESC[_i] = u'\\u%04x' % _i
_ESC[127] = u'\\u007f'
_ESC[34] = u'\\"'
_ESC[92] = u'\\\\'
_ESC[10] = u'\\n'
_ESC[13] = u'\\r'
_ESC[9] = u'\\t'


def _esc_wide(c):
    o = ord(c)
    if o < 128:
        return c
    if o > 0xFFFF:
        o -= 0x10000
        return '\\u%04x\\u%04x' % (0xD800 | (o >> 10), 0xDC00 | (o & 0x3FF))
    return '\\u%04x' % o


def _enc_str(s):
    if not PY3 and isinstance(s, str):
        try:
            s = s.decode('utf-8')
        except UnicodeError:
            s = s.decode('latin-1')
    elif PY3 and not isinstance(s, str):
        try:
            s = s.decode('utf-8')
        except UnicodeError:
            s = s.decode('latin-1')
    s = s.translate(_ESC)
    try:
        s.encode('ascii')
    except UnicodeError:
        s = ''.join([_esc_wide(c) for c in s])
    return '"' + s + '"'


def _enc(v, out):
    t = type(v)
    if t is str or t is _unicode or t is _bytes:
        out.append(_enc_str(v))
    elif v is None:
        out.append('null')
    elif v is True:
        out.append('true')
    elif v is False:
        out.append('false')
    elif t is int or t is _long:
        out.append('%d' % v)
    elif t is float:
        if v != v or v in (1e999, -1e999):
            out.append('null')
        elif 1e7 <= abs(v) < 1e15:
            out.append('%.3f' % v)   # e.g. wall-clock seconds: keep the milliseconds
        else:
            out.append('%.9g' % v)
    elif t is list or t is tuple:
        out.append('[')
        first = True
        for x in v:
            if not first:
                out.append(',')
            first = False
            _enc(x, out)
        out.append(']')
    elif t is dict:
        out.append('{')
        items = []                # sorted by encoded key: Python 2 cannot compare
        for k in v:               # a non-ASCII str with a unicode
            if isinstance(k, (str, _unicode, _bytes)):
                items.append((_enc_str(k), k))
            else:
                items.append((_enc_str(str(k)), k))
        items.sort()
        first = True
        for ek, k in items:
            if not first:
                out.append(',')
            first = False
            out.append(ek)
            out.append(':')
            _enc(v[k], out)
        out.append('}')
    elif isinstance(v, (int, _long)):
        _enc(int(v), out)
    elif isinstance(v, float):
        _enc(float(v), out)
    else:
        out.append(_enc_str(str(v)))


def encode(v):
    """One JSON value as an ASCII str (tiny encoder: Python 2.5 has no json)."""
    out = []
    _enc(v, out)
    return ''.join(out)


def _ascii(s):
    """Text to what os.write takes: str on Python 2, bytes on Python 3."""
    if PY3:
        return s.encode('ascii')
    if isinstance(s, _unicode):
        return s.encode('ascii')
    return s


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


# ---------------------------------------------------------------- links  (probe/links.py)
# Following the links that only carry a reference (a closure's cell and tuple, a function, a
# bound method, an anonymous tuple) up from a holder to the first container a person names
# in code, for the referrer walk's phrases; and the module-qualified class names those
# phrases use. Reads app objects only as referrers.py does (type(), _type_attr, C
# attributes of functions, methods and tuples).
# Defines: _chain, _in_chain, _said, _item_phrase, _link_text, _method_text, _is_link,
#   _closure_of, _closure_owner, _funcs_of_cell, _qual_class, _class_text, _owner_text,
#   _LINK_MAX.
# Uses: base (_type_attr, the type handles), referrers (_parents, _root, _name, _short,
#   _func_name, _KIND, _CellType, _METHOD_FUNC).

def _qual_class(k):
    """'module.QualName' of class k (builtins bare), read through `type`'s own descriptors
    (an old-style class's C attributes): no hook of the app's runs."""
    n = _type_attr(k, '__qualname__')
    if type(n) is not str and type(n) is not _unicode:
        n = _type_attr(k, '__name__')
    if type(n) is not str and type(n) is not _unicode:
        return '?'
    m = _type_attr(k, '__module__')
    if (type(m) is not str and type(m) is not _unicode) or m in ('builtins', '__builtin__', 'exceptions'):
        return str(n)
    return '%s.%s' % (m, n)


def _class_text(k, ctx):
    """Class k as a holder phrase names it: its own name; module-qualified in a chain's."""
    if ctx.get('qual'):
        return _qual_class(k)
    return _short_class(k)


def _owner_text(o, ctx):
    """The class of instance o as a holder phrase names it (see _class_text)."""
    if ctx.get('qual'):
        t = type(o)
        if t is _InstanceType:
            t = o.__class__      # an old-style instance's class: a C attribute, no hook
        return _qual_class(t)
    return _short(o)


def _closure_of(f):
    """Function f's closure tuple (None for a function without one): a C attribute."""
    try:
        return getattr(f, '__closure__', getattr(f, 'func_closure', None))
    except Exception:
        return None


def _funcs_of_cell(cell, ctx):
    """The functions whose closure holds cell (through their closure tuple)."""
    out = []
    for p in _parents(cell, ctx):
        if type(p) is tuple:
            for f in _parents(p, ctx):
                if type(f) is _FunctionType and _closure_of(f) is p:
                    out.append(f)
    return out


# ---- following links up to the container a person edits
# Some holders only carry a reference: a closure's cell (held by the closure tuple, held by
# the function), a function, a bound method, an anonymous tuple (a (deadline, callback)
# pair, an argument tuple). Named as the nearest link ("closure cell of function on_tick")
# they tell nobody what to fix; the walk goes on up through them to the first container a
# person names in code (a module global, a class or instance attribute, a dict, list or set
# such a name holds) and says it in one phrase:
#     HOLDER in CONTAINER (via LINK, LINK, ...)
#     HOLDER     closure `f` | closure tuple of `f` | closure cell of `f` | function `f` |
#                bound method W.m | list item | tuple item | dict value | dict key |
#                set member
#     CONTAINER  module global `mod.NAME` | attribute `mod.Class.attr` |
#                class attribute `mod.Class.attr` | dict|list|set `PATH` where PATH
#                names it from such a root (`mod.Class.attr['key'][*]`); a tuple is a
#                link (named as a path it would name one entry: `pending[28]`)
#     LINK       a (float, function) tuple | closure `f` | function `f` | bound method `W.m`
#                | a closure cell | a partial (any other object holding it that the walk
#                cannot name as a namespace, by its type)
# e.g. "closure `on_tick` in dict `ui.Scheduler.pending` (via a (float, function) tuple)".
# Names in it are module-qualified (in backticks); a holder named directly (a module
# global, an attribute, a named container) keeps its shorter phrase. Each link costs heap
# scans (deadline checks before each, as everywhere); at most _LINK_MAX links are followed.
_LINK_MAX = 6


def _link_text(o):
    t = type(o)
    if t is tuple:
        names = []
        for y in o[:4]:
            names.append(_short(y))
        if len(o) > 4:
            names.append('...')
        if len(names) == 1:
            return 'a (%s,) tuple' % names[0]
        return 'a (%s) tuple' % ', '.join(names)
    if t is _FunctionType:
        if _closure_of(o) is not None:
            return 'closure `%s`' % _func_name(o)
        return 'function `%s`' % _func_name(o)
    if t is _MethodType:
        return 'bound method `%s`' % _method_text(o)
    if t is _CellType:
        return 'a closure cell'
    return 'a ' + _short(o)


def _method_text(m, x=None):
    """'Class.method' of bound method m, by the instance it is bound to (2.x's unbound
    method, bound to nothing: by x, the object it holds)."""
    s = _METHOD_SELF.__get__(m, _MethodType)
    if s is None:
        s = x
    return '%s.%s' % (_short(s), _func_name(_METHOD_FUNC.__get__(m, _MethodType)))


_METHOD_SELF = _MethodType.__dict__.get('__self__')
if _METHOD_SELF is None:
    _METHOD_SELF = _MethodType.__dict__['im_self']     # 2.5


_NOT_LINKS = {dict: 1, list: 1, set: 1, frozenset: 1, _FrameType: 1, _GenType: 1, _ModuleType: 1}


def _is_link(o):
    """Can o be followed as a link: a tuple, a function, a bound method, a cell, or any
    other object the walk could not name as a namespace (a functools.partial, holding its
    argument tuple; a weak reference's callback; an object holding it in a C field)? Not a
    named container's type, a frame, a generator, a module or a class."""
    t = type(o)
    if t is tuple or t is _FunctionType or t is _MethodType or t is _CellType:
        return True
    return not (t in _NOT_LINKS or _is_class(o))


def _chain(c, ctx):
    """(CONTAINER, [LINK, ...]) for link c: its holders followed up through links to the
    first named container; None when there is none within _LINK_MAX links."""
    ctx['qual'] = True
    try:
        return _chain_walk(c, ctx)
    finally:
        ctx['qual'] = False


def _chain_walk(c, ctx):
    links = []
    seen = {}
    steps = 0
    while steps <= _LINK_MAX:
        steps += 1
        seen[id(c)] = 1
        parents = _parents(c, ctx)
        for p in parents:
            tp = type(p)
            if tp is _FrameType or tp is _GenType:
                continue
            r = _root(c, p, ctx)
            if r is not None:
                return ('%s `%s`' % r, links)
        for p in parents:
            tp = type(p)
            # (a tuple is a link: named as a path, `pending[28]`, it would name one entry)
            if tp is dict or tp is list or tp is set or tp is frozenset:
                n = _name(p, ctx, 1)
                if n is not None:
                    return ('%s `%s`' % (_KIND.get(tp, _short(p)), n[1]), links)
        nxt = None
        for p in parents:
            if _is_link(p) and id(p) not in seen:
                nxt = p
                break
        if nxt is None:
            return None
        if type(nxt) is tuple:
            owner = _closure_owner(nxt, ctx)
            if owner is not None:
                nxt = owner              # cell <- closure tuple <- function: one link
        if type(nxt) is not _CellType:
            links.append(_link_text(nxt))
        c = nxt
    return None


def _closure_owner(tup, ctx):
    """The function whose closure tuple tup is, or None."""
    for f in _parents(tup, ctx):
        if type(f) is _FunctionType and _closure_of(f) is tup:
            return f
    return None


def _said(ch, first=None):
    """'CONTAINER (via LINK, ...)' for a chain; `first`: the direct holder, said first."""
    container, links = ch
    if first is not None:
        links = [first] + links
    if links:
        return '%s (via %s)' % (container, ', '.join(links))
    return container


def _in_chain(head, c, ctx):
    """'HEAD in CONTAINER (via ...)' following the links up from c, or None."""
    ch = _chain(c, ctx)
    if ch is None:
        return None
    return '%s in %s' % (head, _said(ch))


def _item_phrase(head, r, ctx):
    """'HEAD in CONTAINER' for an item of list, dict, tuple or set r: r named from a root;
    else r followed up as a link (an anonymous tuple; an unnamed container held by one)."""
    n = _name(r, ctx, 1)
    if n is not None and not (type(r) is tuple and n[0] == 'tuple'):
        return '%s in %s %s' % (head, n[0], n[1])      # (a tuple named as a path is a link)
    ch = _chain(r, ctx)
    if ch is not None:
        if type(r) is tuple:
            return '%s in %s' % (head, _said(ch, _link_text(r)))
        return '%s in %s' % (head, _said(ch, 'an unnamed ' + _KIND.get(type(r), _short(r))))
    return '%s in unnamed %s' % (head, _KIND.get(type(r), _short(r)))


# ---------------------------------------------------------------- sizes  (probe/sizes.py)
# Bytes a sampled object takes with what it alone holds (its __dict__, its own lists,
# strings, numbers): the object itself plus, to a small depth, every referent whose only
# reference is the one from its holder. Sizes come from the nearest built-in base type's
# __sizeof__ (never an app-defined hook), plus the collector's header for tracked types,
# rounded to the allocator's 8 bytes. Python 2.5 has no __sizeof__: basic size plus item
# size times the length of a built-in container.
# Defines: sample_sizes(samples), _owned_size, _base_sizeof, SIZE_DEPTH, SIZE_MAX_OBJECTS.
# Uses: base (_S, _grc, _type_attr, _FunctionType, _long, _unicode, _xrange), writer
#   (probe_error).

SIZE_DEPTH = 4
SIZE_MAX_OBJECTS = 256
_HEAPTYPE = 1 << 9
_HAVE_GC = 1 << 14
_MANAGED_DICT = 0
if sys.version_info[:2] >= (3, 11):
    _MANAGED_DICT = 1 << 4


def _gc_head():
    f = getattr(sys, 'getsizeof', None)
    if f is not None:
        try:
            return f([]) - [].__sizeof__()
        except Exception:
            pass
    return 3 * _ptr_size()


def _ptr_size():
    try:
        return type(()).__itemsize__ or 8
    except Exception:
        return 8


_SHARED_TYPES = (type, _FunctionType, type(sys), type(len))


def _base_sizeof(o):
    t = type(o)
    b = t
    try:
        # read as `type` defines them: a metaclass's hooks do not run
        while _type_attr(b, '__flags__') & _HEAPTYPE:
            b = _type_attr(b, '__bases__')[0]
    except Exception:
        b = object
    f = getattr(b, '__sizeof__', None)
    if f is not None:
        try:
            n = f(o)
        except Exception:
            n = object.__sizeof__(o)
    else:
        n = _size25(o, b)
    try:
        flags = _type_attr(t, '__flags__')
        if flags & _HAVE_GC:
            n += _S['gc_head']
        if _MANAGED_DICT and flags & _MANAGED_DICT:
            # 3.11+: the attributes live in a values array outside the object (and two
            # pointers before it), which no __sizeof__ counts: a pointer per value (its
            # referents, less the type), at least a small shared-keys table's worth
            k = len(gc.get_referents(o)) - 1
            n += _ptr_size() * (2 + max(6, k + 1))
    except Exception:
        pass
    return (n + 7) & ~7


def _size25(o, b):
    n = getattr(b, '__basicsize__', 16)
    if b is list or b is tuple or b is dict or b is str or b is _unicode or b is _long:
        try:
            k = b.__len__(o)     # the built-in's own length, not an override
        except Exception:
            k = 0
        if b is dict:
            if k > 5:
                m = 8
                while m * 2 <= k * 3:
                    m *= 2
                n += 3 * _ptr_size() * m
        elif b is list:
            n += _ptr_size() * k
        else:
            n += (getattr(b, '__itemsize__', 0) or 1) * k
    return n


def _owned_size(o, offset):
    """Bytes of o and of what only o holds (depth SIZE_DEPTH, SIZE_MAX_OBJECTS at most)."""
    total = _base_sizeof(o)
    seen = {id(o): 1}
    level = [o]
    left = SIZE_MAX_OBJECTS
    depth = 0
    while level and depth < SIZE_DEPTH and left > 0:
        nxt = []
        for h in level:
            try:
                subs = gc.get_referents(h)
            except Exception:
                continue
            for r in subs:
                if id(r) in seen or issubclass(type(r), _SHARED_TYPES):   # not r.__class__
                    continue
                seen[id(r)] = 1
                if _grc(r) - offset != 1:
                    continue
                total += _base_sizeof(r)
                nxt.append(r)
                left -= 1
                if left <= 0:
                    break
            subs = None
            if left <= 0:
                break
        level = nxt
        depth += 1
    level = nxt = None
    return total


def _owned_offset_walk():
    """References the size walk itself holds to a referent (its list of referents, the
    loop variable, getrefcount's argument), measured the same way on this interpreter."""
    h = [[]]
    subs = gc.get_referents(h)
    for r in subs:
        return _grc(r) - 1
    return 3


def sample_sizes(samples):
    """Median bytes of the sampled objects with what they alone hold, or None."""
    try:
        if 'gc_head' not in _S:
            _S['gc_head'] = _gc_head()
            _S['size_off'] = _owned_offset_walk()
        sizes = []
        for i in _xrange(len(samples)):
            sizes.append(_owned_size(samples[i], _S['size_off']))
        if not sizes:
            return None
        sizes.sort()
        return sizes[len(sizes) // 2]
    except Exception:
        probe_error('sizes')
        return None


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


# ---------------------------------------------------------------- app-side API  (probe/api.py)
# What the app sees as `import refscope`: mark(name) and watch(obj, label); and the
# calibration that measures the references the probe's own code paths add.
# Defines: mark, watch, marks_snapshot, _WATCHES, _mark_next, _mark_pairs, _api_module,
#   calibrate.
# Uses: base, writer (emit, probe_error), census (_Calib, _name_of_obj, _tally, _deep_walk),
#   referrers (_sample_rc), sampler (_watch_rc).

_WATCHES = []       # (label, weak ref or object, type name, strong?) per watch()
_mark_next = {}
_mark_pairs = {}


def mark(name='mark'):
    """Count one iteration (frame, request) of the app under `name`."""
    try:
        _mark_next[name]()
    except KeyError:
        _mark_slow(name)
    except TypeError:
        _mark_slow(str(name))
    if _NW['on']:
        try:
            narrow_mark(name)
        except Exception:
            probe_error('narrow mark')


def _mark_slow(name):
    c = itertools.count(0)
    pair = _mark_pairs.setdefault(name, (c, getattr(c, 'next', None) or getattr(c, '__next__')))
    _mark_next[name] = pair[1]
    pair[1]()


def marks_snapshot():
    out = {}
    for name, pair in list(_mark_pairs.items()):
        r = repr(pair[0])
        if not isinstance(name, (str, _unicode)):
            name = str(name)
        out[name] = int(r[r.index('(') + 1:r.rindex(')')])
    return out


def watch(obj, label=None):
    """Follow obj's refcount by identity in every sample (weakly when possible)."""
    try:
        tname = _name_of_obj(obj)
        if label is None:
            label = '%s@%x' % (tname, id(obj))
        if len(_WATCHES) >= MAX_WATCHES:
            emit('event', ['event', 'probe-error', 'detail',
                           'watch: more than %d watched objects; %r ignored' % (MAX_WATCHES, label)])
            return
        if not isinstance(label, (str, _unicode)):
            label = str(label)
        try:
            entry = (label, _weakref_ref(obj), tname, False)
        except TypeError:
            entry = (label, obj, tname, True)
        _WATCHES.append(entry)
    except Exception:
        probe_error('watch')


def _api_module():
    m = type(sys)('refscope')
    m.__doc__ = 'refscope app-side API (only present under refscope_probe.py)'
    m.mark = mark
    m.watch = watch
    m.version = PROBE_VERSION
    m._probe = _SELF_MODULE
    return m


# ---------------------------------------------------------------- calibration

def _calib_locals():
    """References a function's local gains when its frame's f_locals is read (1, or 2
    where reading copies the locals into a dict the frame keeps: up to 3.12)."""
    x = _Calib()
    f = sys._getframe()
    a = _grc(x)
    f.f_locals
    b = _grc(x)
    f = None
    return 1 + (b - a)


class _CalibNew(object):
    def __init__(self, box):
        box.append(_grc(self))


class _CalibOld:                  # old-style on Python 2 only
    def __init__(self, box):
        box.append(_grc(self))


def _calib_trace():
    """What a narrowing window's trace function must allow for (hooks._trace_follow):
    the references a returned value has at a 'return' event beyond its holders (the
    return value, the trace function's argument, 2.x's argument tuple); those a new
    instance has during its Python __init__ beyond its self (type_call's, and 2.x's bound
    method and argument tuple), new-style and old-style."""
    box = []
    x = _CalibNew(box)
    _S['off_init'] = box[0] - _grc(x)
    del box[:]
    y = _CalibOld(box)
    _S['off_init_old'] = box[0] - _grc(y)
    del box[:]
    box.append(x)

    def ret_x():
        return box[0]
    code = getattr(ret_x, '__code__', None) or getattr(ret_x, 'func_code')

    def tr(frame, event, arg):
        if event == 'return' and frame.f_code is code:
            box.append(_grc(arg))
        return tr
    before = _grc(x)
    prev = None
    if hasattr(sys, 'gettrace'):
        prev = sys.gettrace()
    sys.settrace(tr)
    try:
        ret_x()
    finally:
        sys.settrace(prev)
    if len(box) > 1:
        _S['off_ret'] = box[1] - before


def calibrate():
    """Measure the references the probe's own code paths add (docs/protocol.md)."""
    keep = [_Calib()]            # one known reference: this list
    objs = [keep[0]]
    cnt = {}
    rs = {}
    _tally(objs, cnt, rs, _grc, type, _InstanceType, IMMORTAL_MIN, {})
    _S['off_census'] = rs[_Calib] - 1
    objs = None
    # the deep census: a fresh string whose one reference is a list
    holder = ['refscope-calibration-%d' % id(keep)]
    got = _deep_walk([holder], 0, _thread_clock() + 1.0, 0)
    if got is not None and str in got[0]:
        _S['off_deep'] = sum(got[0][str][DEEP_BUCKETS:]) - 1
    holder = got = None
    _S['off_sample'] = _sample_rc(keep, 0)   # keep plays the samples list
    w = keep[0]
    e = ('calib', _weakref_ref(w), '', False)
    w = None
    _S['off_weak'] = _watch_rc(e) - 1
    _S['off_locals'] = _calib_locals()
    try:
        _calib_trace()
    except Exception:
        probe_error('calibrate trace')
    keep2 = [[]]
    e2 = ('calib', keep2[0], '', True)
    _S['off_strong'] = _watch_rc(e2) - 1
    e2 = None


# ---------------------------------------------------------------- runner  (probe/runner.py)
# The command line, running the app as `python script.py` (or -m) would in this
# process, and main(): start record, baseline census, sampler, app, final census, end.
# Defines: main, parse_args, run_app, start_record, USAGE.
# Uses: base, encoder (_ascii), writer (emit, probe_error, _W, _open_segment,
#   _close_segment), storage (_rescan), census (census, _STATE), sampler (start_sampler,
#   stop_sampler, _read_proc), api (_api_module, calibrate).

def _usage_error(msg):
    try:
        os.write(2, _ascii('refscope_probe: %s\n' % msg))
    except Exception:
        pass
    sys.exit(2)


USAGE = ('usage: refscope_probe.py [--out DIR] [--interval S] [--census-budget F] '
         '[--watch-type NAME]... [--segment-kib N] [--max-device-mb MB] [--restore-sigint] '
         '[--no-narrow] [--narrow-again] [--narrow-soak] '
         '-- script.py ARGS... | -- -m module ARGS...')


def parse_args(argv):
    o = {'out': './refscope-out', 'interval': 1.0, 'budget': 0.02, 'watch': [],
         'segkib': 1024, 'devmb': None, 'script': None, 'module': None, 'args': []}
    takes = {'--out': 'out', '--interval': 'interval', '--census-budget': 'budget',
             '--watch-type': 'watch', '--segment-kib': 'segkib', '--max-device-mb': 'devmb'}
    i = 0
    rest = None
    while i < len(argv):
        a = argv[i]
        if a == '--':
            rest = argv[i + 1:]
            break
        if a in ('-h', '--help'):
            _usage_error(USAGE)
        if a in ('--restore-sigint', '--no-narrow', '--narrow-again', '--narrow-soak'):
            o[a[2:]] = True
            i += 1
            continue
        val = None
        if '=' in a and a.split('=', 1)[0] in takes:
            a, val = a.split('=', 1)
        elif a in takes:
            if i + 1 >= len(argv):
                _usage_error('%s needs a value' % a)
            i += 1
            val = argv[i]
        else:
            _usage_error('unknown option %r (%s)' % (a, USAGE))
        key = takes[a]
        try:
            if key == 'interval' or key == 'budget' or key == 'devmb':
                v = float(val)
                if not (v > 0) or (key == 'budget' and v > 1) or v != v or v > 1e6:
                    raise ValueError(val)
                o[key] = v
            elif key == 'segkib':
                v = int(val)
                if v < 1:
                    raise ValueError(val)
                o[key] = v
            elif key == 'watch':
                o['watch'].append(val)
            else:
                if not val:
                    raise ValueError(val)
                o[key] = val
        except ValueError:
            _usage_error('bad value for %s: %r' % (a, val))
        i += 1
    if not rest:
        _usage_error('nothing to run: give -- script.py ARGS... or -- -m module ARGS...')
    if rest[0] == '-m':
        if len(rest) < 2 or not rest[1]:
            _usage_error('-m needs a module name')
        o['module'] = rest[1]
        o['args'] = rest[2:]
    else:
        o['script'] = rest[0]
        o['args'] = rest[1:]
    return o


def _program_name():
    try:
        raw = _read_proc('/proc/self/cmdline')
        first = raw.split('\0')[0]
        if first:
            return first
    except Exception:
        pass
    return sys.executable or 'python'


def _new_main_module():
    """A fresh __main__ with the keys (and, on 3.x, key order) the interpreter gives it."""
    m = type(sys)('__main__')
    d = m.__dict__
    if PY3:
        d['__annotations__'] = {}
    elif sys.version_info[:2] >= (2, 6):
        d['__package__'] = None
    d['__builtins__'] = sys.modules.get('builtins') or sys.modules.get('__builtin__')
    return m


def _exec_code(code, d):
    exec(code, d)


def _strip_probe_tb(tb):
    while tb is not None and tb.tb_frame.f_code.co_filename == _PROBE_FILE:
        tb = tb.tb_next
    return tb


def _print_exception(et, ev, tb):
    """Print an uncaught exception as the interpreter's top level does."""
    tb = _strip_probe_tb(tb)
    try:
        sys.last_type = et
        sys.last_value = ev
        sys.last_traceback = tb
        if sys.version_info[:2] >= (3, 12):
            sys.last_exc = ev
        if PY3:
            try:
                ev.__traceback__ = tb
            except Exception:
                pass
    except Exception:
        pass
    try:
        hook = getattr(sys, 'excepthook', None) or sys.__excepthook__
        hook(et, ev, tb)
    except Exception:
        pass


def _system_exit_status(ev):
    """What the interpreter does with SystemExit: exit status (prints non-int codes)."""
    code = getattr(ev, 'code', None)
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        text = str(code)
    except Exception:
        text = repr(code)
    try:
        if PY3:
            err = sys.stderr
            if err is not None:
                err.write(text)
                err.write('\n')
            else:
                os.write(2, (text + '\n').encode('utf-8', 'replace'))
        else:
            os.write(2, text + '\n')
    except Exception:
        pass
    return 1


def _module_started(tb):
    """Did a -m module's own code start (vs. runpy failing to find/compile it)?"""
    runpy_file = None
    try:
        import runpy
        runpy_file = runpy.__file__
    except Exception:
        pass
    while tb is not None:
        co = tb.tb_frame.f_code
        fn = co.co_filename
        if co.co_name == '<module>' and fn != _PROBE_FILE and not fn.startswith('<frozen') \
                and not (runpy_file and fn.rstrip('co') == runpy_file.rstrip('co')):
            return True
        tb = tb.tb_next
    return False


def run_app(o):
    """Run the app; returns (how, exit status, error text, start_failed)."""
    main_mod = _new_main_module()
    d = main_mod.__dict__
    code = None
    if o['script'] is not None:
        script = o['script']
        fname = script
        if sys.version_info[:2] >= (3, 9):
            fname = os.path.abspath(script)
        try:
            f = open(script, 'rb')
            try:
                source = f.read()
            finally:
                f.close()
        except (IOError, OSError):
            e = sys.exc_info()[1]
            quoted = "'%s'" % fname
            if PY3:
                quoted = repr(fname)
            msg = "%s: can't open file %s: [Errno %d] %s\n" % (
                _program_name(), quoted, e.errno or 0, e.strerror)
            try:
                os.write(2, _ascii(msg) if not PY3 else msg.encode('utf-8', 'surrogateescape'))
            except Exception:
                pass
            return ('start-failed', 2, 'cannot open %s' % script, True)
        if sys.version_info[:2] < (2, 7):
            source = source.replace('\r\n', '\n').replace('\r', '\n')
            if not source.endswith('\n'):
                source += '\n'
        sys.argv[:] = [script] + o['args']
        try:
            sys.path[0] = os.path.dirname(os.path.realpath(script))
        except IndexError:
            sys.path.insert(0, os.path.dirname(os.path.realpath(script)))
        if PY3:
            ext = sys.modules.get('_frozen_importlib_external')
            if ext is not None:
                try:
                    d['__loader__'] = ext.SourceFileLoader('__main__', fname)
                except Exception:
                    pass
        d['__file__'] = fname
        if PY3:
            d['__cached__'] = None
        sys.modules['__main__'] = main_mod
        try:
            code = compile(source, fname, 'exec', 0, True)
        except:
            et, ev, tb = sys.exc_info()
            _print_exception(et, ev, tb)
            return ('start-failed', 1, _err_text(et, ev), True)
        source = None
    else:
        sys.argv[:] = ['-m'] + o['args']
        path0 = ''
        if sys.version_info[:2] >= (3, 7):
            path0 = os.getcwd()
        try:
            sys.path[0] = path0
        except IndexError:
            sys.path.insert(0, path0)
        sys.modules['__main__'] = main_mod
    try:
        baseline_census()
    except KeyboardInterrupt:
        # stopped before the app began (a --duration counted from the launch, on a busy
        # device): as python interrupted before the script's first line, not a probe crash
        et, ev, tb = sys.exc_info()
        _print_exception(et, ev, tb)
        return ('interrupt', _exc_status(o), _err_text(et, ev), False)
    try:
        start_sampler()
    except Exception:
        probe_error('start sampler')
    try:
        if code is not None:
            _exec_code(code, d)
        else:
            _run_module(o['module'])
    except SystemExit:
        ev = sys.exc_info()[1]
        tb = sys.exc_info()[2]
        failed = o['module'] is not None and not _module_started(tb)
        status = _system_exit_status(ev)
        return ('sys.exit', status, None, failed)
    except KeyboardInterrupt:
        et, ev, tb = sys.exc_info()
        _print_exception(et, ev, tb)
        return ('interrupt', _exc_status(o), _err_text(et, ev), False)
    except:
        et, ev, tb = sys.exc_info()
        failed = o['module'] is not None and not _module_started(tb)
        _print_exception(et, ev, tb)
        return ('exception', _exc_status(o), _err_text(et, ev), failed)
    return ('exit', 0, None, False)


def _exc_status(o):
    if PY25 and o['module'] is not None:
        return 255   # 2.5's -m returns -1 from main on an uncaught exception
    return 1


def _err_text(et, ev):
    try:
        name = et.__name__
        msg = str(ev)
    except Exception:
        return '?'
    if msg:
        return '%s: %s' % (name, msg)
    return name


def _run_module(name):
    import runpy
    if hasattr(runpy, '_run_module_as_main'):
        runpy._run_module_as_main(name, True)
    else:
        # Python 2.5: what its -m switch does (Modules/main.c RunModule)
        runpy.run_module(name, None, '__main__', True)


def baseline_census():
    try:
        census()
    except Exception:
        probe_error('baseline census')


def join_app_threads():
    """Wait for the app's non-daemon threads, as the interpreter does at exit."""
    threading = sys.modules.get('threading')
    if threading is None:
        return                   # no threading threads: nothing python would wait for
    cur = _current_thread(threading)
    while True:
        pending = []
        for t in threading.enumerate():
            if t is cur or t is _STATE.get('thread'):
                continue
            alive = getattr(t, 'is_alive', None) or getattr(t, 'isAlive')
            if not alive():
                continue
            if hasattr(threading.Thread, 'daemon'):
                daemon = t.daemon
            else:
                daemon = t.isDaemon()
            if daemon or isinstance(t, getattr(threading, '_DummyThread', ())):
                continue
            pending.append(t)
        if not pending:
            return
        for t in pending:
            t.join()


def _current_thread(threading):
    f = getattr(threading, 'current_thread', None) or getattr(threading, 'currentThread')
    return f()


def start_record(o):
    page = 4
    try:
        page = os.sysconf('SC_PAGE_SIZE') // 1024
    except Exception:
        pass
    _S['page_kib'] = page
    v = sys.version_info
    pyver = '%d.%d.%d' % (v[0], v[1], v[2])
    impl = 'CPython'
    if hasattr(sys, 'pypy_version_info'):
        impl = 'PyPy'
    target = o['script'] or o['module']
    argv = [target] + o['args']
    cwd = None
    try:
        cwd = os.getcwd()        # the report names the app's files relative to it
    except Exception:
        pass
    emit('start', ['schema', SCHEMA, 'probe', PROBE_VERSION, 'wall', _S['t0'],
                   'pid', os.getpid(), 'python', pyver, 'impl', impl,
                   'platform', sys.platform, 'executable', sys.executable or '',
                   'argv', argv, 'target', target, 'module', o['module'] is not None,
                   'cwd', cwd, 'interval', o['interval'], 'censusBudget', o['budget'],
                   'pageKiB', page, 'segmentKiB', _W['cap'] // 1024, 'watchTypes', o['watch'],
                   'maxDeviceKiB', (_W['dev_cap'] // 1024) or None,
                   'observer', {'refcountOffset': _S['off_census'],
                                'watchOffset': _S['off_weak'],
                                'immortalMin': IMMORTAL_MIN}])


def _prepare_out(path):
    try:
        if not os.path.isdir(path):
            os.makedirs(path)
        for n in os.listdir(path):
            base = n
            if n.endswith('.jsonl.tmp'):
                base = n[:-4]                 # a rewrite a killed probe left half done
            if len(base) == 16 and base.startswith('seg-') and base.endswith('.jsonl') and base[4:10].isdigit():
                os.remove(os.path.join(path, n))
        _W['dir'] = os.path.abspath(path)   # the app may chdir
        _open_segment(1)
        if _W['dev_cap']:
            try:
                st = os.statvfs(_W['dir'])
                _W['blk'] = max(512, st.f_frsize or st.f_bsize)
            except Exception:
                pass
            _rescan()
    except (IOError, OSError):
        e = sys.exc_info()[1]
        _usage_error('cannot write to --out %s: %s' % (path, getattr(e, 'strerror', None) or e))


def main(argv):
    o = parse_args(argv)
    _S['interval'] = o['interval']
    _S['budget'] = o['budget']
    _STATE['watch_types'] = o['watch']
    _NW['off'] = bool(o.get('no-narrow'))
    # seconds after a type's window before it may have another (0: never)
    _NW['again'] = (o.get('narrow-again') and NARROW_AGAIN_SECONDS) or (o.get('narrow-soak') and NARROW_SOAK_SECONDS) or 0
    _W['cap'] = o['segkib'] * 1024
    if o['devmb'] is not None:
        # segments of at most 1/8 of the cap, so that thinning has closed ones to work on
        _W['dev_cap'] = max(1, int(o['devmb'] * 1024 * 1024))
        _W['cap'] = min(_W['cap'], max(1024, (_W['dev_cap'] // 8) // 1024 * 1024))
    _prepare_out(o['out'])
    if o.get('restore-sigint'):
        # started as a background job of a shell (refscope_launch.sh), which set SIGINT to
        # ignored: give the app back Python's KeyboardInterrupt so a stop is a clean one
        try:
            import signal
            if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
                signal.signal(signal.SIGINT, signal.default_int_handler)
        except Exception:
            probe_error('restore-sigint')
    try:
        calibrate()
    except Exception:
        probe_error('calibrate')
    start_record(o)
    api = _api_module()
    sys.modules['refscope'] = api
    sys.modules['refscope_probe'] = api
    how, status, error, failed = run_app(o)
    if os.getpid() != _S['pid']:
        # a forked child of the app: behave like python, record nothing
        try:
            join_app_threads()
        except Exception:
            pass
        return status
    wait_threads = True
    if how == 'sys.exit':
        how = 'exit'
        # 2.5 exits at once on SystemExit; later versions wait for threads first
        wait_threads = not PY25
    if failed:
        how = 'start-failed'
    if wait_threads and (how != 'start-failed' or _S['censuses']):
        try:
            join_app_threads()
        except Exception:
            probe_error('join threads')
    try:
        narrow_finish()
    except Exception:
        probe_error('narrow finish')
    try:
        stop_sampler()
    except Exception:
        probe_error('stop sampler')
    if _S['censuses']:
        try:
            census(True, True)
        except Exception:
            probe_error('final census')
    exit_field = status
    if how == 'interrupt' and sys.version_info[:2] >= (3, 8):
        exit_field = 130
    emit('end', ['how', how, 'exit', exit_field, 'error', error,
                 'probeCpu', round(_S['probe_cpu'], 6), 'censuses', _S['censuses']])
    _close_segment()
    if how == 'interrupt' and sys.version_info[:2] >= (3, 8):
        _die_by_sigint()
    return status


def _die_by_sigint():
    """3.8+: an unhandled KeyboardInterrupt ends the process by SIGINT, after cleanup."""
    import signal
    import atexit
    try:
        atexit._run_exitfuncs()
    except Exception:
        pass
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)


if _RUN_AS_MAIN:
    sys.exit(main(sys.argv[1:]))
'''


def _body_source(filename):
    """The body's text, read back from this file, padded so line numbers match."""
    f = open(filename, 'rb')
    try:
        lines = f.read().decode('ascii').split('\n')
    finally:
        f.close()
    end = lines.index("\'\'\'", _BODY_LINE)
    return '\n' * (_BODY_LINE - 1) + '\n'.join(lines[_BODY_LINE - 1:end]) + '\n'


def _compile_body(filename):
    """The body's code object, compiled in a forked child when possible: the
    interpreter keeps the memory a compile takes, the child takes it away with it."""
    try:
        r, w = os.pipe()
        pid = os.fork()
    except (OSError, AttributeError):
        return compile(_body_source(filename), filename, 'exec', 0, True)
    if pid == 0:
        status = 1
        try:
            os.close(r)
            data = marshal.dumps(compile(_body_source(filename), filename, 'exec', 0, True))
            while data:
                data = data[os.write(w, data):]
            status = 0
        except:
            pass
        os._exit(status)
    os.close(w)
    chunks = []
    while True:
        try:
            b = os.read(r, 65536)
        except OSError:
            if sys.exc_info()[1].errno == 4:      # EINTR on Python 2
                continue
            break
        if not b:
            break
        chunks.append(b)
    os.close(r)
    status = 1
    while True:
        try:
            status = os.waitpid(pid, 0)[1]
            break
        except OSError:
            if sys.exc_info()[1].errno != 4:
                break
    if status != 0 or not chunks:
        return compile(_body_source(filename), filename, 'exec', 0, True)
    return marshal.loads(chunks[0][:0].join(chunks))


exec(_compile_body(sys._getframe().f_code.co_filename), globals())

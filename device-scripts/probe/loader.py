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
# @probe-modules: node device-scripts/assemble.mjs puts device-scripts/probe/*.py here
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

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

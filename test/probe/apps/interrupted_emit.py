"""For test/probe/interrupt.test.ts: the probe's records stay numbered without a gap when
the app's signal handler raises (KeyboardInterrupt on the SIGINT that stops a soak) while
a record is being built in the app's thread.

Loads the probe as a module (not as __main__: nothing runs), points its writer at argv[1],
then emits: one record normally, one whose line building raises KeyboardInterrupt once
(the interrupt must reach the caller), one normally. Prints 'interrupted' when it did.
"""
import os
import sys

probe_path, out = sys.argv[1], sys.argv[2]
try:
    import importlib.util as _u
    spec = _u.spec_from_file_location('refscope_probe_under_test', probe_path)
    probe = _u.module_from_spec(spec)
    spec.loader.exec_module(probe)
except ImportError:
    import imp
    probe = imp.load_source('refscope_probe_under_test', probe_path)

ns = probe.__dict__
ns['_W']['dir'] = os.path.abspath(out)
ns['_open_segment'](1)
real = ns['_record_line']
calls = [0]


def flaky(seq, kind, fields):
    calls[0] += 1
    if calls[0] == 2:
        raise KeyboardInterrupt()
    return real(seq, kind, fields)


ns['_record_line'] = flaky
ns['emit']('event', ['event', 'test', 'detail', 'first'])
try:
    ns['emit']('event', ['event', 'test', 'detail', 'second'])
except KeyboardInterrupt:
    sys.stdout.write('interrupted\n')
ns['emit']('event', ['event', 'test', 'detail', 'third'])
ns['_close_segment']()

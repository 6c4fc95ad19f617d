# Run with -m modapp.
import sys
sys.stdout.write('argv=%r name=%r file=%r path0=%r\n' % (sys.argv, __name__, __file__, sys.path[0]))
if len(sys.argv) > 1 and sys.argv[1] == 'fail':
    raise RuntimeError('module failed')
sys.exit(len(sys.argv))

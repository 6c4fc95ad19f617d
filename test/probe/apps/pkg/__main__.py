import sys
sys.stdout.write('package main %r\n' % (__name__,))

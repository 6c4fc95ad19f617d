# Ignores SIGINT and loops until killed; says so on stderr once it is running.
import signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
sys.stderr.write('stubborn: running\n')
sys.stderr.flush()
while 1:
    time.sleep(0.05)

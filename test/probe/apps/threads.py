# A non-daemon thread outlives the main script; Python waits for it before exiting.
import sys
import threading
import time

started = threading.Event()
go = threading.Event()


def worker():
    started.set()
    go.wait()
    time.sleep(0.2)
    sys.stdout.write('worker done\n')
    sys.stdout.flush()


t = threading.Thread(target=worker)
t.start()
started.wait()
sys.stdout.write('main done\n')
sys.stdout.flush()
go.set()
if len(sys.argv) > 1:
    sys.exit(int(sys.argv[1]))

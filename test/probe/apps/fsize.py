# Runs argv[2:] with RLIMIT_FSIZE = argv[1] bytes: writes past it fail (EFBIG).
import os
import resource
import signal
import sys
n = int(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # as python 3 itself does
resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))
os.execv(sys.argv[2], sys.argv[2:])

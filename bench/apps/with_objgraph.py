"""Bench harness: run an app with objgraph.show_growth() once a second (Python 3).

  python3 with_objgraph.py APP.py [ARGS...]

A daemon thread calls objgraph.show_growth() every second, as a developer hunting a
leak by hand would; its output goes to /dev/null so only the cost is measured.
"""
import os
import runpy
import sys
import threading
import time

import objgraph


def watch():
    sink = open(os.devnull, 'w')
    while True:
        time.sleep(1.0)
        objgraph.show_growth(limit=10, file=sink)


thread = threading.Thread(target=watch, name='objgraph-watch')
thread.daemon = True
thread.start()
sys.argv = sys.argv[1:]
sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
runpy.run_path(sys.argv[0], run_name='__main__')

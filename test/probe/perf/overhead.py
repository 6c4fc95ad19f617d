"""Quick overhead check of the probe (not part of the vitest suite).

    python3 test/probe/perf/overhead.py PYTHON [ITERATIONS] [REPS]

Runs hold_app.py (200 000 live objects, a CPU-bound loop calling mark() every 1000
iterations) bare and under the probe at default settings, alternately, REPS times each;
prints min/median wall and CPU seconds (the probe's forked compile child included) and
the app's own RSS reading at its end.
"""
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = os.path.join(HERE, '..', '..', '..', 'device-scripts', 'refscope_probe.py')


def main():
    py = sys.argv[1]
    n = sys.argv[2] if len(sys.argv) > 2 else '60000000'
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    out = tempfile.mkdtemp(prefix='refscope-perf-')
    app = os.path.join(HERE, 'hold_app.py')
    res = {'bare': [], 'probe': []}
    for _ in range(reps):
        for mode in ('bare', 'probe'):
            cmd = [py, app, n] if mode == 'bare' else [py, PROBE, '--out', out, '--', app, n]
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.time()
            text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            wall = time.time() - t
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
            res[mode].append((wall, cpu, int(text.split('rss_end=')[1])))
    med = lambda xs: sorted(xs)[len(xs) // 2]
    for mode in res:
        rows = res[mode]
        print('%-5s wall min %.3f med %.3f  cpu min %.3f med %.3f  rss_end med %d KiB' % (
            mode, min(r[0] for r in rows), med([r[0] for r in rows]),
            min(r[1] for r in rows), med([r[1] for r in rows]), med([r[2] for r in rows])))
    b, p = res['bare'], res['probe']
    print('ratio wall(min) %.3f  cpu(min) %.3f  cpu(med) %.3f  rss +%d KiB' % (
        min(r[0] for r in p) / min(r[0] for r in b), min(r[1] for r in p) / min(r[1] for r in b),
        med([r[1] for r in p]) / med([r[1] for r in b]), med([r[2] for r in p]) - med([r[2] for r in b])))


if __name__ == '__main__':
    main()

"""A labgrid test that soaks one board's Python app under refscope and fails on a leak.

    LG_BOARD_ADDRESS=192.168.7.2 pytest --lg-env env.yaml test_refscope.py

The board is the target `main` of the labgrid environment; refscope logs in to its
NetworkService (address, username, port) with your SSH key and checks its host key
against ~/.ssh/known_hosts, as for any device. The app folder is pushed first.
REFSCOPE_APP (default ./app) and REFSCOPE_SCRIPT (default app/main.py, relative to where
the folder lands) say which app; REFSCOPE_ARGS adds its arguments.
"""
import json
import os
import shlex
import subprocess

import pytest
from labgrid.resource import NetworkService

REFSCOPE = os.environ.get("REFSCOPE", "refscope")


@pytest.fixture
def board(target):
    return target.get_resource(NetworkService)


def test_app_does_not_leak(board, tmp_path):
    app = os.environ.get("REFSCOPE_APP", "app")
    script = os.environ.get("REFSCOPE_SCRIPT", "app/main.py")
    args = shlex.split(os.environ.get("REFSCOPE_ARGS", ""))
    host = "[%s]" % board.address if ":" in board.address else board.address
    device = "%s@%s:%d" % (board.username, host, board.port)
    session = tmp_path / "session"
    run = subprocess.run(
        [REFSCOPE, "run", device, "--json", "--out", str(session), "--push", app, "--", script] + args,
        capture_output=True, text=True, timeout=3600,
    )
    # 0 no leak, 1 leak: both come with a report; 2, 3, 4 are usage, device and app errors
    if run.returncode not in (0, 1):
        pytest.fail("refscope run %s exited %d: %s" % (device, run.returncode, run.stderr.strip()[-2000:]))
    report = json.loads(run.stdout)
    leaks = ["%s %s: %s" % (s["kind"], s["type"], s["evidence"]) for s in report["suspects"]]
    assert report["verdict"] != "leak", "leak on %s (session %s):\n%s" % (device, session, "\n".join(leaks[:3]))

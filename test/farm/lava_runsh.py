"""LAVA's side of a refscope test definition, for test/farm/lava.test.ts (system python3).

    python3 lava_runsh.py validate DEF.yaml REPO_URL
        checks DEF.yaml with Debian's lava-common 2023.01: the test definition schema
        (lava_common.schemas.test.testdef, strictly: no field it does not know), a job's
        test action naming it from git, and the same definition given inline. Prints "ok".

    python3 lava_runsh.py runsh DEF.yaml RUNNER_PATH LEVEL PARAM=VALUE...
        prints the run.sh that lava-dispatcher 2023.01 writes for DEF.yaml on the device
        (lava_dispatcher/actions/deploy/testdef.py, TestRunnerAction.run and
        handle_parameters: the definition's params, then the job's, as NAME='value' lines;
        set -e; set -x; TESTRUN_ID; cd RUNNER_PATH; the START/ENDRUN signals around the
        steps). lava-dispatcher itself is not installed (it needs systemd and libguestfs).
"""
import re
import sys

import yaml
from voluptuous import PREVENT_EXTRA, Schema

from lava_common.schemas import validate_action
from lava_common.schemas.test.testdef import testdef, validate


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def check(path, repo):
    data = load(path)
    validate(data)
    Schema(testdef(), extra=PREVENT_EXTRA)(data)
    name = data["metadata"]["name"]
    action = {
        "timeout": {"minutes": 30},
        "definitions": [
            {"repository": repo, "from": "git", "path": path, "name": name},
            {"repository": data, "from": "inline", "path": "inline/" + name + ".yaml", "name": name + "-inline"},
        ],
    }
    validate_action("test.definition", 0, action, strict=True)
    sys.stdout.write("ok\n")


def runsh(path, runner_path, level, params):
    testdef_ = load(path)
    out = ["###default parameters from test definition###\n"]
    for key in ("params", "parameters"):
        for k, v in (testdef_.get(key) or {}).items():
            out.append("%s='%s'\n" % (k, v if v else ""))
    out.append("######\n")
    out.append("###test parameters from job submission###\n")
    for p in params:
        k, v = p.split("=", 1)
        out.append("%s='%s'\n" % (k, v))
    out.append("######\n")
    out.append("set -e\n")
    out.append("set -x\n")
    out.append("export TESTRUN_ID=%s\n" % level)
    out.append("cd %s\n" % runner_path)
    out.append("UUID=`cat uuid`\n")
    out.append("set +x\n")
    out.append('echo "<LAVA_SIGNAL_STARTRUN $TESTRUN_ID $UUID>"\n')
    out.append("set -x\n")
    for cmd in [s for s in testdef_.get("run", {}).get("steps", []) if s is not None]:
        if "--cmd" in cmd or "--shell" in cmd:
            cmd = re.sub(r"\$(\d+)\b", r"\\$\1", cmd)
        out.append("%s\n" % cmd)
    out.append("set +x\n")
    out.append('echo "<LAVA_SIGNAL_ENDRUN $TESTRUN_ID $UUID>"\n')
    sys.stdout.write("".join(out))


if __name__ == "__main__":
    if sys.argv[1] == "validate":
        check(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "runsh":
        runsh(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    else:
        sys.exit("usage: lava_runsh.py validate DEF REPO | runsh DEF RUNNER_PATH LEVEL [PARAM=VALUE...]")

#!/bin/sh
# refscope_launch.sh RUN_DIR PYTHON PROBE --out RUN_DIR/segments [PROBE_ARGS...] -- SCRIPT [ARGS...]
#
# Starts the probe (and so the app) for a remote run, POSIX sh as busybox has it: runs
# everything after RUN_DIR as the command.
# Writes RUN_DIR/pid (the probe's pid: the host kills by pid, since dropbear ignores
# SSH signal requests) and, when the app has ended, RUN_DIR/exit with its status: the
# sentinel that tells the host the run ended normally.
set -u
run="$1"; shift
mkdir -p "$run/segments" || { echo "refscope: cannot create $run/segments" >&2; exit 97; }
rm -f "$run/exit"
"$@" <&0 &
child=$!
echo "$child" > "$run/pid.tmp" && mv "$run/pid.tmp" "$run/pid"
trap 'kill -TERM "$child" 2>/dev/null' TERM HUP
trap 'kill -INT "$child" 2>/dev/null' INT
st=0
wait "$child" || st=$?
# a trapped signal interrupts wait; wait again until the probe has really ended
while kill -0 "$child" 2>/dev/null; do
  st=0
  wait "$child" || st=$?
done
echo "$st" > "$run/exit.tmp" && mv "$run/exit.tmp" "$run/exit"
exit "$st"

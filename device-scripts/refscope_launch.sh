#!/bin/sh
# refscope_launch.sh [--detach] [--duration S] RUN_DIR PYTHON PROBE --out RUN_DIR/segments [PROBE_ARGS...] -- SCRIPT [ARGS...]
#
# Starts the probe (and so the app) for a remote run, POSIX sh as busybox has it: runs
# everything after RUN_DIR as the command. Writes into RUN_DIR:
#   pid      the probe's pid (the host signals by pid: dropbear ignores SSH signal requests)
#   started  the device clock at start (seconds since the epoch)
#   boot_id  the kernel's boot id at start (a different one later means the device rebooted)
#   exit     the app's exit status, once it has ended: the sentinel of a normal end
# --detach: start in a new session, stdin from /dev/null, output to RUN_DIR/app.out and
#   app.err, and return at once (a soak survives the SSH connection and the host).
# --duration S: stop the app after S seconds (SIGINT, then SIGTERM and SIGKILL 10 s apart).
set -u
if [ "${1:-}" = "--detach" ]; then
  shift
  case "$1" in --duration) run="$3" ;; *) run="$1" ;; esac
  mkdir -p "$run/segments" || { echo "refscope: cannot create $run/segments" >&2; exit 97; }
  if command -v setsid >/dev/null 2>&1; then
    setsid sh "$0" "$@" </dev/null >"$run/app.out" 2>"$run/app.err" &
  else
    nohup sh "$0" "$@" </dev/null >"$run/app.out" 2>"$run/app.err" &
  fi
  echo "detached $!"
  exit 0
fi
duration=""
if [ "${1:-}" = "--duration" ]; then duration="$2"; shift 2; fi
run="$1"; shift
mkdir -p "$run/segments" || { echo "refscope: cannot create $run/segments" >&2; exit 97; }
rm -f "$run/exit"
date +%s > "$run/started" 2>/dev/null
cat /proc/sys/kernel/random/boot_id > "$run/boot_id" 2>/dev/null
"$@" <&0 &
child=$!
echo "$child" > "$run/pid.tmp" && mv "$run/pid.tmp" "$run/pid"
trap 'kill -TERM "$child" 2>/dev/null' TERM HUP
trap 'kill -INT "$child" 2>/dev/null' INT
watchdog=""
if [ -n "$duration" ]; then
  ( sleep "$duration"; kill -INT "$child" 2>/dev/null; sleep 10; kill -TERM "$child" 2>/dev/null; sleep 10; kill -KILL "$child" 2>/dev/null ) </dev/null >/dev/null 2>&1 &
  watchdog=$!
fi
st=0
wait "$child" || st=$?
# a trapped signal interrupts wait; wait again until the probe has really ended
while kill -0 "$child" 2>/dev/null; do
  st=0
  wait "$child" || st=$?
done
[ -z "$watchdog" ] || kill "$watchdog" 2>/dev/null
echo "$st" > "$run/exit.tmp" && mv "$run/exit.tmp" "$run/exit"
exit "$st"

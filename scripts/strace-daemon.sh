#!/bin/bash
# Runs a command (the daemon) under `strace -f`, writing one trace file per
# run (all threads) to $STRACE_DIR (default /tmp/vhost-famfs-strace), and forwards
# SIGTERM/SIGINT to the traced command so that it shuts down as it would
# untraced. Used to derive the seccomp allow list (docs/sandboxing.md):
#
#   DAEMON_WRAPPER=scripts/strace-daemon.sh tests/vm/run-driver-tests.sh basic
#   scripts/seccomp-syscalls.py /tmp/vhost-famfs-strace/*   # the calls seen
set -euo pipefail
dir=${STRACE_DIR:-/tmp/vhost-famfs-strace}
mkdir -p "$dir"
strace -f -qq -o "$dir/trace.$$" -- "$@" &
tracer=$!
forward() {
    local child
    child=$(pgrep -P "$tracer" || true)
    [ -z "$child" ] || kill -TERM "$child" 2>/dev/null || true
}
trap forward TERM INT
# `wait` returns early when a trapped signal arrives: wait again.
while kill -0 "$tracer" 2>/dev/null; do
    wait "$tracer" || true
done

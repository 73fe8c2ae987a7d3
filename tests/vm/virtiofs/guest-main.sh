#!/bin/sh
# The initramfs test script of run-virtiofs-tests.sh (busybox sh): a stock
# guest kernel, no module loaded, mounts the daemon's virtio-fs device
# with the built-in virtiofs driver. The kernel command line picks the
# script: vfs_test.scenario=NAME vfs_test.vm=NAME [vfs_test.K=V].
set -e
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^vfs_test\.$1=//p"; }
SCENARIO=$(arg scenario)
VM=$(arg vm)
M=/mnt
fail() { echo "GUEST-CHECK: FAIL [$VM] $*"; exit 1; }
check() { echo "GUEST-CHECK: [$VM] $*"; }
marker() { echo "GUEST-HOST: $1"; }
# refused ERRTEXT CMD...: CMD fails with the error text ERRTEXT.
refused() {
    want=$1; shift
    if out=$("$@" 2>&1); then fail "'$*' succeeded"; fi
    echo "$out" | grep -q "$want" || fail "'$*': '$out', expected '$want'"
    check "refused ($want): $*"
}
mount_virtiofs() {
    mkdir -p $M
    grep -qw virtiofs /proc/filesystems || fail "kernel without virtiofs"
    [ ! -d /sys/module/virtio_famfs ] || fail "virtio_famfs module loaded"
    mount -t virtiofs "$(arg tag)" $M || fail "mount -t virtiofs"
    check "mounted: $(grep " $M " /proc/mounts)"
}
# wait_bytes FILE OFFSET TEXT SECS: poll read(2) until FILE holds TEXT at OFFSET.
wait_bytes() {
    n=0
    until [ "$(dd if="$1" bs=1 skip="$2" count=${#3} status=none 2>/dev/null)" = "$3" ]; do
        n=$((n + 1))
        [ $n -lt $(($4 * 20)) ] || return 1
        sleep 0.05
    done
}
[ -f "/virtiofs/guest-$SCENARIO.sh" ] || fail "no script for '$SCENARIO'"
check "scenario $SCENARIO"
. "/virtiofs/guest-$SCENARIO.sh"
umount $M || fail "umount"
check "PASS"

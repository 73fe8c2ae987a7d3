#!/bin/sh
# Guest side of run-driver-tests.sh remove: the device goes away while a
# file is mapped in one process and open (unmapped) in another; first by
# driver unbind through sysfs, then, after a rebind, by QEMU device_del
# (PCIe hot-unplug, which the host does on "GUEST-HOST: device-del").
set -e
M=/mnt
DRV=/sys/bus/virtio/drivers/virtio_famfs
fail() { echo "GUEST-CHECK: FAIL $*"; exit 1; }

# wait_for TEST SECONDS: poll a shell test every 0.1 s.
wait_for() {
    n=$(($2 * 10))
    while ! eval "$1"; do
        n=$((n - 1)); [ $n -gt 0 ] || return 1
        sleep 0.1
    done
}

# Start the two holders of round $1 and wait until both touched their file.
start_holders() {
    d=/tmp/$1
    mkdir -p $d
    famfs_hold map $M/f $d >$d/map.log 2>&1 &
    map_pid=$!
    famfs_hold open $M/sub/g $d >$d/open.log 2>&1 &
    open_pid=$!
    wait_for "[ -e $d/ready-map ] && [ -e $d/ready-open ]" 120 ||
        fail "$1: holders not ready: $(cat $d/*.log)"
}

# After the removal of round $1: the holders and new accesses fail cleanly.
check_removed() {
    d=/tmp/$1
    touch $d/go
    wait $map_pid || fail "$1: mapped process: $(cat $d/map.log)"
    wait $open_pid || fail "$1: open process: $(cat $d/open.log)"
    sed "s/^/$1: /" $d/map.log $d/open.log
    if cat $M/f >/dev/null 2>/tmp/err; then fail "$1: open of f worked"; fi
    echo "$1: open: $(cat /tmp/err)"
    if stat $M/sub/g >/dev/null 2>/tmp/err; then fail "$1: stat worked"; fi
    echo "$1: stat: $(cat /tmp/err)"
    if ls $M/nosuchfile >/dev/null 2>/tmp/err; then fail "$1: lookup worked"; fi
    echo "$1: lookup: $(cat /tmp/err)"
    if famfs_mmap_test verify $M/f 7 >/tmp/err 2>&1; then
        fail "$1: mmap worked"
    fi
    umount $M || fail "$1: umount"
    echo "GUEST-CHECK: PASS $1: SIGBUS for the mapping, errors for the rest, clean umount"
}

grep -q slub_debug /proc/cmdline || fail "not booted with slub_debug"
echo "cmdline: $(cat /proc/cmdline)"
vdev=$(basename "$(readlink -f $DRV/virtio*)")
[ -e /sys/bus/virtio/devices/$vdev ] || fail "no bound device"
mkdir -p $M

# Round 1: unbind the driver from the device.
mount -t famfs famfs $M || fail "mount"
famfs_mmap_test verify $M/f 7 >/dev/null || fail "verify f"
start_holders unbind
echo $vdev >$DRV/unbind || fail "unbind"
check_removed unbind

# The same device again: the old window's pages went with the last mount.
echo $vdev >$DRV/bind || fail "bind"
mount -t famfs famfs $M || fail "mount after rebind"
famfs_mmap_test verify $M/f 7 >/dev/null || fail "verify f after rebind"
echo "GUEST-CHECK: PASS rebind: mounted and read again"

# Round 2: the VMM unplugs the device.
start_holders unplug
echo "GUEST-HOST: device-del"
wait_for "[ ! -e /sys/bus/virtio/devices/$vdev ]" 60 || fail "device not removed"
check_removed unplug

rmmod virtio_famfs || fail "rmmod"
echo "GUEST-CHECK: PASS"

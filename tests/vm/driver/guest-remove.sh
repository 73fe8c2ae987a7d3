#!/bin/sh
# Guest side of run-driver-tests.sh remove: the device goes away while a
# file is mapped in one process and open (unmapped) in another; first by
# driver unbind through sysfs, then, after a rebind, by QEMU device_del
# (PCIe hot-unplug, which the host does on "GUEST-HOST: device-del").
set -e
M=/mnt
DRV=/sys/bus/virtio/drivers/virtio_famfs
fail() { echo "GUEST-CHECK: FAIL $*"; exit 1; }

. /lib/removal.sh

# With the virtio device gone, metadata fails too.
metadata_fails() {
    if stat $M/sub/g >/dev/null 2>/tmp/err; then fail "$1: stat worked"; fi
    echo "$1: stat: $(cat /tmp/err)"
    if ls $M/nosuchfile >/dev/null 2>/tmp/err; then fail "$1: lookup worked"; fi
    echo "$1: lookup: $(cat /tmp/err)"
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
check_removed unbind metadata_fails

# The same device again: the old window's pages went with the last mount.
echo $vdev >$DRV/bind || fail "bind"
mount -t famfs famfs $M || fail "mount after rebind"
famfs_mmap_test verify $M/f 7 >/dev/null || fail "verify f after rebind"
echo "GUEST-CHECK: PASS rebind: mounted and read again"

# Round 2: the VMM unplugs the device.
start_holders unplug
echo "GUEST-HOST: device-del"
wait_for "[ ! -e /sys/bus/virtio/devices/$vdev ]" 60 || fail "device not removed"
check_removed unplug metadata_fails

rmmod virtio_famfs || fail "rmmod"
echo "GUEST-CHECK: PASS"

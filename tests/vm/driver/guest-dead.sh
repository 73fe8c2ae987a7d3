#!/bin/sh
# Guest side of run-driver-tests.sh dead: the host kills the daemon.
set -e
M=/mnt
STATS=/sys/kernel/debug/virtio_famfs/famfs/stats
fail() { echo "GUEST-CHECK: FAIL $*"; exit 1; }

echo 3 > /sys/module/virtio_famfs/parameters/request_timeout
mkdir -p $M
mount -t famfs famfs $M || fail "mount"
famfs_mmap_test verify $M/f 7 || fail "verify f"
echo "GUEST-HOST: kill-daemon"
sleep 3
t0=$(cut -d. -f1 /proc/uptime)
if ls $M/nosuchfile 2>/tmp/err; then fail "lookup worked"; fi
t1=$(cut -d. -f1 /proc/uptime)
echo "lookup failed after $((t1 - t0)) s: $(cat /tmp/err)"
[ $((t1 - t0)) -le 8 ] || fail "lookup took $((t1 - t0)) s"
# Broken now: the next request fails at once.
t0=$(cut -d. -f1 /proc/uptime)
if mkdir $M/x 2>/dev/null; then fail "mkdir worked"; fi
if stat -f $M >/dev/null 2>&1; then fail "statfs worked"; fi
t1=$(cut -d. -f1 /proc/uptime)
[ $((t1 - t0)) -le 1 ] || fail "requests on a broken device took $((t1 - t0)) s"
# Nothing needs the device to read a mapped file.
famfs_mmap_test verify $M/f 7 && echo "f still readable" || echo "f not readable"
cat $STATS
umount $M || fail "umount"
rmmod virtio_famfs || fail "rmmod"
echo "GUEST-CHECK: PASS"

#!/bin/sh
# Guest side of run-driver-tests.sh client: role=client (no MAY_CREATE).
set -e
M=/mnt
STATS=/sys/kernel/debug/virtio_famfs/famfs/stats
fail() { echo "GUEST-CHECK: FAIL $*"; exit 1; }
stat_of() { sed -n "s/^$1 //p" "$STATS"; }

mkdir -p $M
mount -t famfs famfs $M || fail "mount"
grep " $M famfs rw" /proc/mounts || fail "not mounted read-write"
err=$(mkdir $M/d 2>&1) && fail "mkdir worked"
echo "mkdir: $err"
case $err in *"Read-only file system"*) ;; *) fail "mkdir: not EROFS" ;; esac
if truncate -s 4M $M/new 2>/dev/null; then fail "create worked"; fi
famfs_mmap_test verify $M/f 7 || fail "verify f"
famfs_mmap_test pwrite $M/f 13 || fail "pwrite f"
famfs_mmap_test verify $M/f 13 || fail "verify rewritten f"
cat $STATS
[ "$(stat_of req_create)" = 0 ] && [ "$(stat_of req_mkdir)" = 0 ] ||
    fail "a CREATE or MKDIR was sent"
umount $M || fail "umount"
rmmod virtio_famfs || fail "rmmod"
echo "GUEST-CHECK: PASS"

#!/bin/sh
# Guest side of run-driver-tests.sh ro: the socket has role=ro (READ_ONLY).
set -e
M=/mnt
STATS=/sys/kernel/debug/virtio_famfs/famfs/stats
fail() { echo "GUEST-CHECK: FAIL $*"; exit 1; }
stat_of() { sed -n "s/^$1 //p" "$STATS"; }

mkdir -p $M
# Asked for rw, mounted ro.
mount -t famfs famfs $M || fail "mount"
grep " $M famfs ro" /proc/mounts || fail "not mounted read-only"
famfs_mmap_test verify $M/f 7 || fail "verify f"
# busybox retries a refused rw remount as ro: check the result.
mount -o remount,rw $M 2>/dev/null || true
grep " $M famfs ro" /proc/mounts || fail "remounted read-write"
if mkdir $M/d 2>/dev/null; then fail "mkdir worked"; fi
if truncate -s 4M $M/new 2>/dev/null; then fail "create worked"; fi
if sh -c "echo x > $M/f" 2>/dev/null; then fail "write(2) worked"; fi
if famfs_mmap_test write $M/f 9; then fail "shared writable mmap worked"; fi
famfs_mmap_test verify $M/f 7 || fail "f changed"
cat $STATS
[ "$(stat_of req_create)" = 0 ] && [ "$(stat_of req_mkdir)" = 0 ] ||
    fail "a CREATE or MKDIR was sent"
umount $M || fail "umount"
rmmod virtio_famfs || fail "rmmod"
echo "GUEST-CHECK: PASS"

#!/bin/sh
# Guest side of run-driver-tests.sh race: reads, writes and faults racing
# with the ftruncate() that creates a new file get the new map or a clean
# error (EOF, ENOSPC, SIGBUS before the size), never EIO.
set -e
M=/mnt
fail() { echo "GUEST-CHECK: FAIL $*"; exit 1; }

mkdir -p $M
mount -t famfs famfs $M || fail "mount"
mkdir $M/race || fail "mkdir race"
famfs_datapath_test create-race $M/race 12 || fail "create-race"
n=$(ls $M/race | wc -l)
[ "$n" = 12 ] || fail "$n files in race/, not 12"
[ "$(stat -c %s $M/race/race.11)" = 2097152 ] || fail "race.11 size"
if dmesg | grep -q "invalid GET_FMAP"; then fail "a map was rejected"; fi
umount $M || fail "umount"
rmmod virtio_famfs || fail "rmmod"
echo "GUEST-CHECK: PASS"

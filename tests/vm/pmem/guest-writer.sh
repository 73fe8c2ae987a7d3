#!/bin/sh
# Guest side of run-pmem-tests.sh share, VM a (master): mounts through its
# pmem window and writes w (seed 9) through a shared mapping, while VM b
# (role=ro) waits to read it through its own pmem window.
set -e
M=/mnt
fail() { echo "GUEST-CHECK: FAIL $*"; dmesg | tail -n 20; exit 1; }
n=600
while [ ! -e /dev/pmem0 ]; do n=$((n - 1)); [ $n -gt 0 ] || fail "no /dev/pmem0"; sleep 0.1; done
mkdir -p $M
mount -t famfs -o pmem=/dev/pmem0 famfs $M || fail "mount"
famfs_mmap_test verify $M/f 7 >/dev/null || fail "verify f"
famfs_mmap_test write $M/w 9 || fail "mmap write w"
umount $M || fail "umount"
echo "GUEST-CHECK: PASS writer: w written through the mapping"

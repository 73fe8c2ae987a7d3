#!/bin/sh
# Guest side of run-driver-tests.sh vmmconfig: a VM started by
# vmm-config/qemu/one-vm.sh as written mounts the file system and reads
# what the host wrote.
set -e
M=/mnt
fail() { echo "GUEST-CHECK: FAIL $*"; exit 1; }

mkdir -p $M
mount -t famfs famfs $M || fail "mount"
grep " $M famfs rw" /proc/mounts || fail "not mounted read-write"
ls -l $M
famfs_mmap_test verify $M/f 7 || fail "verify f"
famfs_mmap_test verify $M/sub/g 3 || fail "verify sub/g"
umount $M || fail "umount"
rmmod virtio_famfs || fail "rmmod"
echo "GUEST-CHECK: PASS"

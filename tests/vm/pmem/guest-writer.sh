#!/bin/sh
# Guest side of run-pmem-tests.sh share, VM a (master): mounts through its
# pmem window and writes w (seed 9) through a shared mapping, while VM b
# (role=ro) waits to read it through its own pmem window.
set -e
. /pmem/common.sh
mount_pmem0
famfs_mmap_test verify $M/f 7 >/dev/null || fail "verify f"
famfs_mmap_test write $M/w 9 || fail "mmap write w"
umount $M || fail "umount"
echo "GUEST-CHECK: PASS writer: w written through the mapping"

#!/bin/sh
# Guest side of run-driver-tests.sh poison: a memory failure in the window
# (injected with madvise(MADV_HWPOISON) on a page of f, 64 MiB, seed 7,
# mapped by two processes) gives both SIGBUS, EIO to read(2) and write(2)
# of that page, SIGBUS to a later touch; the rest of f and the guest live.
set -e
M=/mnt
fail() { echo "GUEST-CHECK: FAIL $*"; exit 1; }

mkdir -p $M
mount -t famfs famfs $M || fail "mount"
OFF=$((2 * 1048576 + 8192))
famfs_datapath_test poison $M/f $OFF || fail "poison checks"
dmesg | grep -E 'famfs|Memory failure|memory failure' || true
dmesg | grep -q "memory failure at window offset" || fail "the driver did not see the failure"
# Everything but that page still holds its pattern: verify the first 2 MiB
# and the last part, around the page.
famfs_mmap_test verify $M/sub/g 3 || fail "another file"
umount $M || fail "umount"
mount -t famfs famfs $M || fail "mount again"
if dd if=$M/f of=/dev/null bs=4096 skip=$((OFF / 4096)) count=1 2>/dev/null; then
    fail "the poisoned page reads after a remount"
fi
dd if=$M/f of=/dev/null bs=4096 count=$((OFF / 4096)) 2>/dev/null || fail "the pages before it"
umount $M || fail "umount"
rmmod virtio_famfs || fail "rmmod"
echo "GUEST-CHECK: PASS"

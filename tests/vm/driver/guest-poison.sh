#!/bin/sh
# Guest side of run-driver-tests.sh poison: a memory failure in the window
# (injected with madvise(MADV_HWPOISON) on a page of f, 64 MiB, seed 7,
# mapped by three processes) gives them SIGBUS, EIO to read(2) and
# write(2) of that page, SIGBUS to a later touch; the rest of f and the
# guest live. Then one on a page nobody maps (hwpoison-inject's
# corrupt-pfn, as a memory scrubber would report it): EIO as well.
set -e
M=/mnt
fail() { echo "GUEST-CHECK: FAIL $*"; exit 1; }

mkdir -p $M
mount -t famfs famfs $M || fail "mount"
OFF=$((2 * 1048576 + 8192))
famfs_datapath_test poison $M/f $OFF || fail "poison checks"
dmesg | grep -E 'famfs|Memory failure|memory failure' || true
dmesg | grep -q "memory failure at window offset" || fail "the driver did not see the failure"

# The window's first pfn, from the injection's pfn and window offset.
pfn=$(dmesg | sed -n 's/.*Injecting memory failure for pfn \(0x[0-9a-f]*\) .*/\1/p' | head -n1)
woff=$(dmesg | sed -n 's/.*memory failure at window offset \(0x[0-9a-f]*\) .*/\1/p' | head -n1)
[ -n "$pfn" ] && [ -n "$woff" ] || fail "no pfn/offset in the log"
base=$((pfn - woff / 4096))
# f's page 16 MiB in (f starts at window offset woff - OFF), unmapped.
OFF2=$((16 * 1048576))
target=$((base + (woff - OFF + OFF2) / 4096))
dd if=$M/f of=/dev/null bs=4096 skip=$((OFF2 / 4096)) count=1 2>/dev/null || fail "page at 16 MiB before"
# The generic handler finds no mapping to signal (EBUSY); the page is
# marked poisoned all the same.
printf '%d\n' $target > /sys/kernel/debug/hwpoison/corrupt-pfn 2>/tmp/err || cat /tmp/err
dmesg | tail -n 3
if dd if=$M/f of=/dev/null bs=4096 skip=$((OFF2 / 4096)) count=1 2>/tmp/err; then
    fail "the unmapped poisoned page still reads"
fi
grep -qi "input/output error" /tmp/err || fail "read of the unmapped poisoned page: $(cat /tmp/err)"
famfs-tool read-at $M/f $((OFF2 + 4096)) 4 >/dev/null || fail "the page after it"
echo "GUEST-CHECK: corrupt-pfn on an unmapped page: read(2) EIO, the next page maps"
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

#!/bin/sh
# Guest side of run-pmem-tests.sh share, VM b (role=ro, its pmem backend
# read-only in QEMU): every write path is refused; it sees VM a's write to
# w, made after b has mounted and read w, through its own mapping.
set -e
. /pmem/common.sh
mount_pmem0
grep " $M famfs ro," /proc/mounts || fail "not mounted read-only"
# busybox retries a refused rw remount as ro: check the result.
mount -o remount,rw $M 2>/dev/null || true
grep -q " $M famfs ro," /proc/mounts || fail "remounted read-write"
dmesg | grep -q 'famfs: tag famfs: the device is read-only' || fail "no EROFS message"
if famfs_mmap_test write $M/w 11 >/tmp/err 2>&1; then fail "mmap write worked"; fi
echo "ro: mmap write: $(head -n1 /tmp/err)"
if sh -c "echo x >>$M/f" 2>/tmp/err; then fail "append worked"; fi
echo "ro: append: $(cat /tmp/err)"
if touch $M/new 2>/tmp/err; then fail "create worked"; fi
echo "ro: create: $(cat /tmp/err)"
famfs_mmap_test verify $M/f 7 >/dev/null || fail "verify f"
# w still holds the host's data; only now does the host start VM a, which
# writes it: poll (each pass maps w again) until a's data is there.
famfs_mmap_test verify $M/w 5 >/dev/null || fail "w is not the host's"
echo "GUEST-HOST: reader-ready"
n=0
until famfs_mmap_test verify $M/w 9 >/tmp/verify 2>&1; do
    n=$((n + 1)); [ $n -lt 600 ] || fail "w never showed VM a's write: $(cat /tmp/verify)"
    sleep 0.5
done
grep checksum /tmp/verify
umount $M || fail "umount"
echo "GUEST-CHECK: PASS reader: writes refused, VM a's write seen after $n polls"

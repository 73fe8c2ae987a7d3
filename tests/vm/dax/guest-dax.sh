#!/bin/sh
# Stock virtiofs driver, -o dax=always: mmap and read(2) of a 256 MiB file
# through the DAX window, a write through a shared mapping, the guest's
# view of the window. No module is loaded.
fail=0
check() { if "$@"; then echo "GUEST-CHECK ok: $*"; else echo "GUEST-CHECK FAILED: $*"; fail=1; fi; }
refused() { if "$@"; then echo "GUEST-CHECK FAILED: not refused: $*"; fail=1; else echo "GUEST-CHECK ok: refused: $*"; fi; }

mount -t virtiofs famfs /mnt -o dax=always || { echo "GUEST-CHECK FAILED: mount"; exit 1; }
grep virtiofs /proc/mounts
dmesg | grep -i -E 'virtiofs|virtio_fs|Cache len' | head -5
check grep -q 'dax=always' /proc/mounts
ls -l /mnt
# verify: mmap read-only, check the seeded pattern, checksum, compare
# with read(2).
check famfs_mmap_test verify /mnt/big 7
check famfs_mmap_test verify /mnt/big 7 134217728
# read(2) alone, 1 MiB buffers.
sum=$(dd if=/mnt/big bs=1M 2>/dev/null | md5sum | cut -d' ' -f1)
echo "GUEST-SUM big $sum"
case ${DAX_ROLE:-master} in
master)
    # A shared writable mapping: the guest's writes land in the device.
    check famfs_mmap_test write /mnt/shared 9
    check famfs_mmap_test verify /mnt/shared 9
    ;;
writer)
    # Two guests at once: write once the reader has mapped the old bytes
    # (the host then creates /mnt/go).
    n=0
    until [ -e /mnt/go ] || [ $n -ge 600 ]; do sleep 1; n=$((n + 1)); done
    check test -e /mnt/go
    check famfs_mmap_test write /mnt/shared 9
    ;;
reader)
    # Map the old bytes, then see the writer's through the window.
    check famfs_mmap_test verify /mnt/shared 1
    echo "GUEST-HOST: reader-mapped"
    n=0
    until famfs_mmap_test verify /mnt/shared 9 >/dev/null 2>&1 || [ $n -ge 600 ]; do
        sleep 1; n=$((n + 1))
    done
    check famfs_mmap_test verify /mnt/shared 9
    ;;
ro)
    # Read-only socket: no writable mapping, the bytes stay.
    refused famfs_mmap_test write /mnt/shared 9
    check famfs_mmap_test verify /mnt/shared 1
    ;;
esac
umount /mnt
check true
echo "GUEST-HOST: unmounted"
exit $fail

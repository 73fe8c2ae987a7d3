#!/bin/sh
# Guest side of run-driver-tests.sh bench: reads a 1 GiB famfs file by
# mmap and the same size of anonymous memory in the same boot, and reports
# the bandwidth ratio, faults per GiB and requests for the file.
set -e
M=/mnt
STATS=/sys/kernel/debug/virtio_famfs/famfs/stats
stat_of() { sed -n "s/^$1 //p" "$STATS"; }
mkdir -p $M
mount -t famfs famfs $M
ls -l $M
req=$(stat_of req_total); pmd=$(stat_of fault_pmd); pte=$(stat_of fault_pte)
for i in 1 2 3 4 5; do famfs-tool bench $M/big; done
echo "GUEST-BENCH: requests for the file: $(($(stat_of req_total) - req)) (GET_FMAP $(stat_of req_get_fmap))"
echo "GUEST-BENCH: faults for 1 GiB: $(($(stat_of fault_pmd) - pmd)) PMD, $(($(stat_of fault_pte) - pte)) PTE"
umount $M
echo "GUEST-CHECK: PASS"

#!/bin/sh
# Runs inside the guest after virtio_famfs.ko is loaded. The host made
# "big": 64 GiB striped over 16 strips in 2 MiB chunks on a sparse 65 GiB
# device, and wrote "mark-<offset>" at the file offsets below
# (striped_marks.py). Expanded, the map would be 32768 extents.
M=/mnt
STATS=/sys/kernel/debug/virtio_famfs/famfs/stats
fail() { echo "GUEST-CHECK: FAIL $*"; exit 1; }
stat_of() { sed -n "s/^$1 //p" "$STATS"; }

mkdir -p $M
mount -t famfs famfs $M || fail "mount"
before=$(stat_of req_get_fmap); inline=$(stat_of fmaps_inline)
[ "$(stat -c %s $M/big)" = 68719476736 ] || fail "size $(stat -c %s $M/big)"
for off in 0 2097157 31457380 33554432 34359750713 68719476704; do
    famfs-tool wait-at $M/big $off "mark-$off" 0 || fail "mark-$off not at $off"
    echo "mark-$off: found"
done
# The mark of one offset is not at its neighbour chunks' places.
if famfs-tool wait-at $M/big 4194304 "mark-0" 0; then fail "mark-0 repeats"; fi
# One GET_FMAP, or none when the LOOKUP brought the 16 strips inline.
[ $(($(stat_of req_get_fmap) - before + $(stat_of fmaps_inline) - inline)) = 1 ] ||
    fail "not one GET_FMAP or inline map"
[ "$(stat_of fault_pmd)" -ge 1 ] || fail "no PMD faults"
cat "$STATS"
umount $M || fail "umount"
rmmod virtio_famfs || fail "rmmod"
echo "GUEST-CHECK: PASS"

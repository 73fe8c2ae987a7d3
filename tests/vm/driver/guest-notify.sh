#!/bin/sh
# Guest side of run-driver-tests.sh notify: the host creates "late" (2 MiB,
# seed 5) while the file system is mounted.
set -e
M=/mnt
STATS=/sys/kernel/debug/virtio_famfs/famfs/stats
fail() { echo "GUEST-CHECK: FAIL $*"; exit 1; }
stat_of() { sed -n "s/^$1 //p" "$STATS"; }

mkdir -p $M /mnt2
mount -t famfs famfs $M || fail "mount"
# The same tag twice shares one super block.
mount -t famfs famfs /mnt2 || fail "second mount"
[ -e $M/late ] && fail "late exists already"
ls $M > /dev/null
# Cached: neither the negative dentry nor the listing asks again.
# (READDIR or, with VIRTIO_FAMFS_F_READDIRPLUS, READDIRPLUS)
listings() { echo $(($(stat_of req_readdir) + $(stat_of req_readdirplus))); }
l0=$(stat_of req_lookup); r0=$(listings)
[ -e $M/late ] && fail "late exists already"
ls $M > /dev/null
[ "$(stat_of req_lookup)" = "$l0" ] || fail "negative dentry not cached"
[ "$(listings)" = "$r0" ] || fail "listing not cached"
n0=$(stat_of notifications)

echo "GUEST-HOST: create-late"
i=0
until [ -e $M/late ]; do
    i=$((i + 1))
    [ $i -lt 600 ] || fail "late did not appear in 60 s"
    sleep 0.1
done
echo "late appeared after ~$((i / 10)) s"
ls $M | grep -qx late || fail "late not listed"
ls /mnt2 | grep -qx late || fail "late not listed in the second mount"
[ "$(stat_of notifications)" -gt "$n0" ] || fail "no notification counted"
famfs_mmap_test verify $M/late 5 || fail "verify late"
cat $STATS
umount /mnt2 || fail "umount /mnt2"
umount $M || fail "umount"
rmmod virtio_famfs || fail "rmmod"
echo "GUEST-CHECK: PASS"

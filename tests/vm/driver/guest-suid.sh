#!/bin/sh
# Guest side of run-driver-tests.sh suid. The host made, owned by uid 0:
# suid (2 MiB, mode 6755), suidw (2 MiB, mode 6777: others may write) and
# suidprog (famfs_datapath_test, mode 6755). Without -o allow_suid the
# setuid/setgid bits are not shown and grant nothing; with it they are,
# and a write by another user drops them (in this guest).
set -e
M=/mnt
fail() { echo "GUEST-CHECK: FAIL $*"; exit 1; }
mode_of() { stat -c %a "$1"; }
T=famfs_datapath_test

mkdir -p $M
# uid 1000 must reach the mount (the initramfs root may be 0700).
chmod 755 / $M

mount -t famfs famfs $M || fail "mount"
[ "$(mode_of $M/suid)" = 755 ] || fail "default mount shows suid as $(mode_of $M/suid)"
[ "$(mode_of $M/suidw)" = 777 ] || fail "default mount shows suidw as $(mode_of $M/suidw)"
out=$($T run-as 1000 $M/suidprog) || fail "run suidprog: $out"
[ "$out" = "euid 1000" ] || fail "suidprog ran with $out without allow_suid"
echo "GUEST-CHECK: without allow_suid: suid shows 755, suidw 777, suidprog runs as $out"
umount $M || fail "umount"

mount -t famfs -o allow_suid famfs $M || fail "mount -o allow_suid"
grep " $M famfs " /proc/mounts | grep -q allow_suid || fail "allow_suid not in /proc/mounts"
mkdir -p /mnt2
# One tag, one set of inodes: a second mount must agree.
if mount -t famfs famfs /mnt2 2>/dev/null; then fail "mounted without allow_suid next to allow_suid"; fi
# mount(8) carries the option over to a remount (from /proc/mounts).
mount -o remount,ro $M || fail "remount ro"
grep " $M famfs ro," /proc/mounts | grep -q allow_suid || fail "remount lost allow_suid"
mount -o remount,rw $M || fail "remount rw"
[ "$(mode_of $M/suid)" = 6755 ] || fail "allow_suid shows suid as $(mode_of $M/suid)"
[ "$(mode_of $M/suidw)" = 6777 ] || fail "allow_suid shows suidw as $(mode_of $M/suidw)"
out=$($T run-as 1000 $M/suidprog) || fail "run suidprog: $out"
[ "$out" = "euid 0" ] || fail "suidprog ran with $out with allow_suid"
echo "GUEST-CHECK: with allow_suid: suid shows 6755, suidw 6777, suidprog runs as $out"

# root writes: CAP_FSETID keeps the bits; uid 1000 writes: they go.
echo r | dd of=$M/suidw conv=notrunc 2>/dev/null || fail "root write"
[ "$(mode_of $M/suidw)" = 6777 ] || fail "a root write changed suidw to $(mode_of $M/suidw)"
$T write-as 1000 $M/suidw user || fail "write as uid 1000"
[ "$(mode_of $M/suidw)" = 777 ] || fail "after a write by uid 1000 suidw is $(mode_of $M/suidw)"
echo "GUEST-CHECK: a write by uid 1000 dropped setuid/setgid of suidw: $(mode_of $M/suidw)"
# chmod stays refused, even to drop the bits by hand.
if chmod 755 $M/suid 2>/dev/null; then fail "chmod worked"; fi
umount $M || fail "umount"
rmmod virtio_famfs || fail "rmmod"
echo "GUEST-CHECK: PASS"

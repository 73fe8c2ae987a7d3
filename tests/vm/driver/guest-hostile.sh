#!/bin/sh
# Guest side of run-driver-tests.sh hostile: the device is hostile_device.py.
# Every malformed reply must fail the operation (EIO), be logged
# (ratelimited), and leave the kernel clean; umount and rmmod must work.
M=/mnt
STATS=/sys/kernel/debug/virtio_famfs/hostile/stats
fail() { echo "GUEST-CHECK: FAIL $*"; exit 1; }
stat_of() { sed -n "s/^$1 //p" "$STATS"; }

mkdir -p $M
mount -t famfs hostile $M || fail "mount"
# A glob only reads the directory (ls would also stat every name).
set -- $M/*
[ $# = 44 ] || fail "root lists $# names, not 44"
stat $M/good >/dev/null || fail "stat good"
dd if=$M/good of=/dev/null bs=1 count=0 2>/dev/null || fail "open good"

expect_eio() {
    what=$1; shift
    if "$@" >/dev/null 2>/tmp/err; then fail "$what worked"; fi
    echo "$what: $(cat /tmp/err)"
    grep -q "I/O error\|Input/output error" /tmp/err || fail "$what: not EIO"
}
for n in bad_unique bad_usedlen bad_resplen short_attr bad_mode nodeid0 \
         errno_512 errno_big used_zero; do
    expect_eio "stat $n" stat $M/$n
done
for n in fmap_misaligned fmap_meta fmap_beyond fmap_short fmap_toomany \
         fmap_nofit fmap_e2big_loop fmap_e2big_less fmap_size fmap_zerolen \
         fmap_overlap fmap_kind fmap_il_overlap fmap_il_chunk fmap_il_chunk0 \
         fmap_il_short fmap_il_nostrips fmap_il_toomany fmap_il_nofit \
         fmap_il_stripshort; do
    expect_eio "open $n" dd if=$M/$n of=/dev/null bs=1 count=0
done
# More extents than max_extents (a striped file for a driver that cannot
# take it compactly): EFBIG, and no retry.
if dd if=$M/fmap_e2big_huge of=/dev/null bs=1 count=0 2>/tmp/err; then
    fail "open fmap_e2big_huge worked"
fi
echo "open fmap_e2big_huge: $(cat /tmp/err)"
grep -q "too large" /tmp/err || fail "open fmap_e2big_huge: not EFBIG"
# A valid interleaved map (F_INTERLEAVE was negotiated) is taken.
dd if=$M/fmap_striped of=/dev/null bs=1 count=0 2>/dev/null || fail "open fmap_striped"
for n in dir_namelen0 dir_namelen_big dir_padding dir_slash dir_dotdot \
         dir_type dir_noprogress dir_repeat dir_overflow dir_nul; do
    if famfs_mmap_test ls $M/$n >/tmp/err 2>&1; then fail "ls $n worked"; fi
    echo "ls $n: $(tail -n1 /tmp/err)"
    grep -q "FAIL readdir.*I/O error\|FAIL readdir.*Input/output error" /tmp/err ||
        fail "ls $n: not EIO"
done
# A listing that never ends stops at the driver's bound (262144 entries).
if famfs_mmap_test ls $M/dir_endless >/tmp/err 2>&1; then fail "ls dir_endless worked"; fi
echo "ls dir_endless: $(tail -n1 /tmp/err)"
grep -q "FAIL readdir.*I/O error\|FAIL readdir.*Input/output error" /tmp/err ||
    fail "ls dir_endless: not EIO"
# (262144 cached entries, plus . and ..; the log line may be ratelimited)
grep -q "after 262146 entries" /tmp/err || fail "ls dir_endless: not at the bound"
# MKDIR answered with an existing directory: no second dentry for it.
stat $M/dir_type >/dev/null || fail "stat dir_type"
expect_eio "mkdir alias" mkdir $M/alias
[ -d $M/dir_type ] || fail "dir_type lost"
if stat $M/alias >/dev/null 2>&1; then fail "alias exists"; fi
# A node whose size changes is not trusted any more, under either name.
stat $M/twin >/dev/null || fail "stat twin"
expect_eio "stat twin_grown" stat $M/twin_grown
expect_eio "open twin" dd if=$M/twin of=/dev/null bs=1 count=0
# A rejected map is not cached: asking again fails again.
expect_eio "open fmap_meta again" dd if=$M/fmap_meta of=/dev/null bs=1 count=0
cat $STATS
[ "$(stat_of fmaps_cached)" = 2 ] || fail "a bad map was cached"
[ "$(stat_of notifications)" = 1 ] || fail "notifications: not exactly 1 good one"
[ "$(stat_of req_errors)" -ge 37 ] || fail "req_errors too low"
echo "kernel lines about invalid replies: $(dmesg | grep -c 'invalid\|suppressed')"
umount $M || fail "umount"
rmmod virtio_famfs || fail "rmmod"
echo "GUEST-CHECK: PASS"

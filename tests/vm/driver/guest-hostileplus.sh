#!/bin/sh
# Guest side of run-driver-tests.sh hostileplus: hostile_device.py with
# HOSTILE_PLUS=1 offers READDIRPLUS and inline maps and lies in them. A
# READDIRPLUS reply with a bad entry, bad attributes or a bad inline map
# fails the listing (EIO); a LOOKUP with a bad inline map fails (EIO);
# nothing bad is cached; entries naming the root or the directory itself
# are listed but never instantiated.
M=/mnt
STATS=/sys/kernel/debug/virtio_famfs/hostile/stats
fail() { echo "GUEST-CHECK: FAIL $*"; exit 1; }
stat_of() { sed -n "s/^$1 //p" "$STATS"; }
expect_eio() {
    what=$1; shift
    if "$@" >/dev/null 2>/tmp/err; then fail "$what worked"; fi
    echo "$what: $(cat /tmp/err)"
    grep -q "I/O error\|Input/output error" /tmp/err || fail "$what: not EIO"
}

mkdir -p $M
mount -t famfs hostile $M || fail "mount"
# A glob only reads the directory (walk would descend, ls would stat).
set -- $M/*
[ $# = 14 ] || fail "root lists $# names, not 14"
[ "$(stat_of req_readdirplus)" -ge 1 ] || fail "no READDIRPLUS"
# Every entry of the root (p_good and 13 directories) is instantiated.
[ "$(stat_of entries_primed)" = 14 ] ||
    fail "primed $(stat_of entries_primed) entries, not 14"
[ "$(stat_of fmaps_inline)" = 1 ] || fail "inline maps: $(stat_of fmaps_inline), not 1"

# The good file: no request at all to stat and open it.
t=$(stat_of req_total)
stat $M/p_good >/dev/null || fail "stat p_good"
dd if=$M/p_good of=/dev/null bs=1 count=0 2>/dev/null || fail "open p_good"
[ "$(stat_of req_total)" = "$t" ] || fail "p_good sent $(($(stat_of req_total) - t)) requests"

# Bad inline maps in LOOKUP replies (and one whose fmap_len runs past the
# reply): the lookup fails.
for n in lie_len overlap toomany size outside dirmap nofit beyond; do
    expect_eio "stat p_$n" stat $M/p_$n
done
# The same maps in a listing, after a good entry: the listing fails.
p=$(stat_of entries_primed)
for n in lie_len overlap toomany size outside dirmap nofit; do
    expect_eio "list pd_$n" famfs-tool walk $M/pd_$n list
done
# Bad READDIRPLUS entries: a map past the reply end, a map length not a
# multiple of 8, node id 0, DT_REG with a directory's attributes.
for n in straddle maplen nodeid0 type; do
    expect_eio "list pd_$n" famfs-tool walk $M/pd_$n list
done
[ "$(stat_of entries_primed)" = "$p" ] || fail "an entry of a refused listing was primed"
[ "$(stat_of req_get_fmap)" = 0 ] || fail "GET_FMAP sent"
[ "$(stat_of fmaps_inline)" = 1 ] || fail "a bad inline map was cached"

# The root or the directory itself as an entry: listed, not instantiated.
set -- $M/pd_root/*
[ "$*" = "$M/pd_root/up" ] || fail "pd_root lists: $*"
set -- $M/pd_self/*
[ "$*" = "$M/pd_self/me" ] || fail "pd_self lists: $*"
[ "$(stat_of entries_primed)" = "$p" ] || fail "an ancestor was primed"
[ -d $M/pd_root ] || fail "pd_root lost"
if stat $M/pd_root/up >/dev/null 2>&1; then fail "pd_root/up resolves"; fi
if stat $M/pd_self/me >/dev/null 2>&1; then fail "pd_self/me resolves"; fi
cat $STATS
echo "kernel lines about invalid replies: $(dmesg | grep -c 'invalid\|suppressed\|ancestor')"
umount $M || fail "umount"
rmmod virtio_famfs || fail "rmmod"
echo "GUEST-CHECK: PASS"

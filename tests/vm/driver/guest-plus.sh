#!/bin/sh
# Guest side of run-driver-tests.sh plus: listings with attributes and
# inline maps, in both feature settings, in one boot. The host made many/
# (64 files f1..f64 of 4 KiB, seed 41 + i) besides fresh_fs's files, and
# serves them twice: tag famfs offers READDIRPLUS and ENTRY_FMAP, tag
# famoff (readdirplus=off,entry-fmap=off) offers neither. Last, the module
# is reloaded with readdirplus=0 entry_fmap=0 (a driver without them)
# against the socket that offers them.
set -e
N=64
ON=/mnt/on
OFF=/mnt/off
D=/sys/kernel/debug/virtio_famfs
fail() { echo "GUEST-CHECK: FAIL $*"; exit 1; }
# stat_of TAG NAME: a debugfs counter of the device with TAG.
stat_of() { sed -n "s/^$2 //p" "$D/$1/stats"; }
# snap TAG: remember TAG's counters; delta TAG NAME: growth since snap.
snap() { cp "$D/$1/stats" "/tmp/snap.$1"; }
delta() {
    echo $(($(stat_of "$1" "$2") - $(sed -n "s/^$2 //p" "/tmp/snap.$1")))
}
# verify_all DIR: every file of many/ holds its pattern, read by mmap.
verify_all() {
    i=1
    while [ $i -le $N ]; do
        famfs-tool verify "$1/many/f$i" $((41 + i)) mmap >/dev/null ||
            fail "verify $1/many/f$i"
        i=$((i + 1))
    done
}

mkdir -p $ON $OFF
mount -t famfs famfs $ON || fail "mount famfs"
mount -t famfs famoff $OFF || fail "mount famoff"

# 1. Both features: the listing primes every dentry and map.
snap famfs
famfs-tool walk $ON/many list
[ "$(delta famfs req_readdirplus)" -ge 1 ] || fail "no READDIRPLUS"
[ "$(delta famfs req_readdir)" = 0 ] || fail "READDIR with READDIRPLUS"
[ "$(delta famfs entries_primed)" = $N ] ||
    fail "primed $(delta famfs entries_primed) entries, not $N"
[ "$(delta famfs fmaps_inline)" = $N ] ||
    fail "$(delta famfs fmaps_inline) inline maps, not $N"
snap famfs
ls -l $ON/many >/dev/null
famfs-tool walk $ON/many stat
[ "$(delta famfs req_total)" = 0 ] ||
    fail "ls -l and stat of listed files: $(delta famfs req_total) requests"
verify_all $ON
famfs-tool walk $ON/many mmap
[ "$(delta famfs req_total)" = 0 ] ||
    fail "mmap of listed files: $(delta famfs req_total) requests"
echo "GUEST-CHECK: plus: ls -l, stat, mmap of $N listed files: 0 requests"

# A LOOKUP of a name not listed yet brings its map: open + mmap send none.
stat $ON/sub >/dev/null
snap famfs
famfs-tool verify $ON/sub/g 3 mmap >/dev/null || fail "verify sub/g"
[ "$(delta famfs req_lookup)" = 1 ] || fail "sub/g: $(delta famfs req_lookup) LOOKUP"
[ "$(delta famfs req_get_fmap)" = 0 ] || fail "sub/g: GET_FMAP after an inline map"
[ "$(delta famfs fmaps_inline)" = 1 ] || fail "sub/g: no inline map"
# The striped file's map (4 strips) comes inline too, interleaved.
snap famfs
ls -l $ON >/dev/null
famfs-tool verify $ON/striped 21 mmap >/dev/null || fail "verify striped"
[ "$(delta famfs req_get_fmap)" = 0 ] || fail "striped: GET_FMAP after listing"
[ "$(delta famfs req_lookup)" = 0 ] || fail "root: LOOKUP after listing"
echo "GUEST-CHECK: plus: LOOKUP and interleaved maps inline"

# A listing done again after umount works from a fresh cache.
umount $ON
mount -t famfs famfs $ON || fail "remount famfs"
ls $ON >/dev/null
snap famfs
ls -l $ON/many | grep -c ' f[0-9]*$' | grep -qx $N || fail "relisting"
[ "$(delta famfs req_lookup)" = 0 ] || fail "relisting: LOOKUP"

# 2. A device without the features: today's protocol, one LOOKUP and one
# GET_FMAP per file.
stat $OFF/many >/dev/null
snap famoff
ls -l $OFF/many >/dev/null
[ "$(delta famoff req_readdirplus)" = 0 ] || fail "famoff: READDIRPLUS sent"
[ "$(delta famoff req_readdir)" -ge 1 ] || fail "famoff: no READDIR"
[ "$(delta famoff req_lookup)" = $N ] ||
    fail "famoff: $(delta famoff req_lookup) LOOKUP, not $N"
verify_all $OFF
[ "$(delta famoff req_get_fmap)" = $N ] ||
    fail "famoff: $(delta famoff req_get_fmap) GET_FMAP, not $N"
[ "$(delta famoff fmaps_inline)" = 0 ] || fail "famoff: inline maps"
echo "GUEST-CHECK: plus: device without the features: LOOKUP and GET_FMAP per file"

# 3. A driver without the features, against the device that offers them.
umount $ON
umount $OFF
rmmod virtio_famfs || fail "rmmod"
insmod /modules/*virtio_famfs.ko readdirplus=0 entry_fmap=0 || fail "insmod"
mount -t famfs famfs $ON || fail "mount famfs, old driver"
stat $ON/many >/dev/null
snap famfs
ls -l $ON/many >/dev/null
[ "$(delta famfs req_readdirplus)" = 0 ] || fail "old driver: READDIRPLUS sent"
[ "$(delta famfs req_lookup)" = $N ] ||
    fail "old driver: $(delta famfs req_lookup) LOOKUP, not $N"
verify_all $ON
[ "$(delta famfs req_get_fmap)" = $N ] ||
    fail "old driver: $(delta famfs req_get_fmap) GET_FMAP, not $N"
[ "$(delta famfs fmaps_inline)" = 0 ] || fail "old driver: inline maps"
echo "GUEST-CHECK: plus: driver without the features: LOOKUP and GET_FMAP per file"
umount $ON
rmmod virtio_famfs || fail "final rmmod"
echo "GUEST-CHECK: PASS"

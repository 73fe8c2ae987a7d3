#!/bin/sh
# Runs inside the guest (busybox sh) after virtio_famfs.ko is loaded:
# famfs-guest (guest-tools/), the program shipped with the module.
# The host made: f (64 MiB, seed 7), striped (256 MiB, 4 strips of 2 MiB
# chunks); the socket is the master's. run-driver-tests.sh checks on the
# host what this guest wrote, and compares the GUEST-MAP lines with
# `vhost-famfs getmap`.
set -e
M=/mnt

fail() { echo "GUEST-CHECK: FAIL $*"; exit 1; }

mkdir -p $M
mount -t famfs famfs $M || fail "mount"

# Host-style files on tmpfs: a file that is not a multiple of the 2 MiB
# allocation unit, and a tree with a subdirectory.
famfs-guest creat -s 3145851 -S 23 /tmp/src || fail "creat on tmpfs"
mkdir -p /tmp/tree/d
famfs-guest creat -s 1M -S 0x1f /tmp/tree/a || fail "creat tree/a"
famfs-guest creat -s 0x2000 -S 37 /tmp/tree/d/b || fail "creat tree/d/b"

# Plain cp cannot copy into famfs (O_CREAT gives size 0, writes past it
# fail); famfs-guest cp creates each file with its size first.
if cp /tmp/src $M/plain 2>/dev/null; then fail "plain cp into famfs worked"; fi
mkdir $M/copied
famfs-guest cp -v /tmp/src $M/copied/ || fail "cp file"
cmp /tmp/src $M/copied/src || fail "copied/src differs"
famfs-guest cp -v -r /tmp/tree $M/tree || fail "cp -r"
cmp /tmp/tree/a $M/tree/a || fail "tree/a differs"
cmp /tmp/tree/d/b $M/tree/d/b || fail "tree/d/b differs"
[ "$(stat -c %s $M/copied/src)" = 3145851 ] || fail "size of copied/src"
# -m sets the files' mode; directories keep theirs.
famfs-guest cp -r -m 600 /tmp/tree $M/tree2 || fail "cp -r -m 600"
[ "$(stat -c %a $M/tree2/a) $(stat -c %a $M/tree2/d) $(stat -c %a $M/tree2/d/b)" = "600 755 600" ] \
    || fail "cp -m modes: $(stat -c %a $M/tree2/a) $(stat -c %a $M/tree2/d) $(stat -c %a $M/tree2/d/b)"
cmp /tmp/tree/d/b $M/tree2/d/b || fail "tree2/d/b differs"
echo "GUEST-CHECK: cp: file and tree copied, contents equal"

# Refusals: an existing file is never written over; empty files and
# special files cannot exist in famfs; a directory needs -r.
out=$(famfs-guest cp /tmp/src $M/copied/src 2>&1) && fail "cp over an existing file"
echo "$out" | grep -q "exists (famfs files cannot be replaced)" || fail "cp over existing: $out"
cmp /tmp/src $M/copied/src || fail "copied/src changed by the refused cp"
: >/tmp/empty
out=$(famfs-guest cp /tmp/empty $M/ 2>&1) && fail "cp of an empty file"
echo "$out" | grep -q "famfs has no empty files" || fail "cp empty: $out"
[ ! -e $M/empty ] || fail "empty file left behind"
out=$(famfs-guest cp /tmp/tree $M/t2 2>&1) && fail "cp of a directory without -r"
echo "$out" | grep -q "is a directory (use -r)" || fail "cp dir: $out"
famfs-guest cp /dev/null $M/ 2>/dev/null && fail "cp of a device node"
famfs-guest creat -s 1M $M/f 2>/dev/null && fail "creat over f"
famfs-guest creat -s 0 $M/zero 2>/dev/null && fail "creat of size 0"
rc=0; famfs-guest cp 2>/dev/null || rc=$?
[ $rc = 2 ] || fail "usage error is exit $rc, not 2"
echo "GUEST-CHECK: refusals ok"

# creat: a file of a size, filled with famfs's pattern (verified here by
# mmap and on the host by vhost-famfs verify).
famfs-guest creat -s 5M -S 29 -m 600 $M/made || fail "creat made"
[ "$(stat -c '%s %a' $M/made)" = "5242880 600" ] || fail "made: $(stat -c '%s %a' $M/made)"
famfs_mmap_test verify $M/made 29 || fail "verify made"

# getmap: FIEMAP on the mount; the host compares these with its getmap.
for p in f made copied/src striped; do
    famfs-guest getmap $M/$p >/tmp/map || fail "getmap $p"
    cat /tmp/map
    awk -v p=$p 'NF == 2 && /^\t\t/ {print "GUEST-MAP " p " " $1 " " $2}' /tmp/map
done
[ "$(famfs-guest getmap $M/striped | sed -n 's/^\textents: //p')" = 128 ] || fail "striped: not 128 extents"
famfs-guest getmap $M/copied 2>/dev/null && fail "getmap of a directory"

# flush / invalidate: the cache walk over a mapping of the file, with the
# instruction this CPU has; the data reads back the same afterwards.
famfs-guest flush $M/f >/tmp/fl || fail "flush f"
cat /tmp/fl
grep -Eq "^flush $M/f: 67108864 bytes, 1048576 lines of 64 bytes, (clwb|clflushopt|clflush)$" /tmp/fl \
    || fail "flush output"
famfs-guest creat -s 2M $M/scratch || fail "creat scratch"
famfs-tool write-at $M/scratch 4096 flushed-by-guest || fail "write-at scratch"
famfs-guest flush $M/scratch || fail "flush scratch"
famfs-guest invalidate $M/scratch >/tmp/inv || fail "invalidate scratch"
cat /tmp/inv
grep -Eq "^invalidate $M/scratch: 2097152 bytes, 32768 lines of 64 bytes, (clflushopt|clflush)$" /tmp/inv \
    || fail "invalidate output"
[ "$(famfs-tool read-at $M/scratch 4096 16)" = flushed-by-guest ] || fail "scratch after invalidate"
famfs-guest invalidate $M/f >/dev/null || fail "invalidate f"
famfs_mmap_test verify $M/f 7 || fail "f after invalidate"

umount $M || fail "umount"
rmmod virtio_famfs || fail "rmmod"
echo "GUEST-CHECK: PASS"

#!/bin/sh
# Runs inside the guest (busybox sh) after virtio_famfs.ko is loaded.
# The host made: f (64 MiB, seed 7), sub/g (4 MiB, seed 3), striped
# (256 MiB, seed 21, 4 strips of 2 MiB chunks); the socket is the master's.
# Prints "GUEST-CHECK: ..." lines; exits non-zero on the first failure.
set -e
M=/mnt
STATS=/sys/kernel/debug/virtio_famfs/famfs/stats

fail() { echo "GUEST-CHECK: FAIL $*"; exit 1; }
stat_of() { sed -n "s/^$1 //p" "$STATS"; }
show_stats() { echo "--- stats ($1)"; cat "$STATS"; }

[ -f "$STATS" ] || fail "no $STATS"
mkdir -p $M
mount -t famfs famfs $M || fail "mount"
grep " $M famfs " /proc/mounts
ls -l $M $M/sub
df $M
show_stats "after mount and ls"

# ls/stat/df agree with what the host made (run-driver-tests.sh fresh_fs:
# 1 GiB device, 10 MiB metadata, 64 + 4 + 256 MiB allocated, uid 0).
[ "$(stat -c '%s %a %u %g %F' $M/f)" = "67108864 644 0 0 regular file" ] \
    || fail "stat f: $(stat -c '%s %a %u %g %F' $M/f)"
[ "$(stat -c '%a %F' $M/sub)" = "755 directory" ] || fail "stat sub: $(stat -c '%a %F' $M/sub)"
ls -l $M | grep -q ' 67108864 .* f$' || fail "ls -l size of f"
avail=$(df -k $M | awk 'NR == 2 {print $4}')
# (plus one 2 MiB unit for the cp'd famfs-tool.copy, which is < 2 MiB)
[ "$avail" = $(((1024 - 10 - 64 - 4 - 256 - 2) * 1024)) ] || fail "df available ${avail} KiB"

# An unknown tag and an rw remount are refused cleanly.
mkdir -p /mnt2
if mount -t famfs nosuchtag /mnt2 2>/dev/null; then fail "unknown tag mounted"; fi

# mmap of a 64 MiB file, every byte: exactly one GET_FMAP and no other
# request (none at all when the listing above brought the maps inline,
# VIRTIO_FAMFS_F_ENTRY_FMAP), and every fault a 2 MiB (PMD) mapping.
want=1
[ "$(stat_of fmaps_inline)" = 0 ] || want=0
before=$(stat_of req_get_fmap); total=$(stat_of req_total)
pmd=$(stat_of fault_pmd); pte=$(stat_of fault_pte)
famfs_mmap_test verify $M/f 7 || fail "mmap verify f"
[ $(($(stat_of req_get_fmap) - before)) = $want ] || fail "f needed $(($(stat_of req_get_fmap) - before)) GET_FMAP, not $want"
[ $(($(stat_of req_total) - total)) = $want ] || fail "f cost $(($(stat_of req_total) - total)) requests, not $want"
pmd=$(($(stat_of fault_pmd) - pmd)); pte=$(($(stat_of fault_pte) - pte))
echo "GUEST-CHECK: f: $want request(s), $pmd PMD faults, $pte PTE faults"
[ $((pmd * 2048)) -ge $((65536 * 99 / 100)) ] || fail "only $pmd PMD faults for 64 MiB"
[ "$pte" = 0 ] || fail "$pte PTE faults on a 2 MiB-aligned file"
# A second pass over the mapping, with its smaps entry: a DAX mapping has
# no page cache behind it (Rss 0 although every byte was read) and is
# marked for huge pages (hg).
famfs-tool touch $M/f >/tmp/touch || fail "touch f"
cat /tmp/touch
grep -q '^smaps: Size: *65536 kB' /tmp/touch || fail "smaps: no 64 MiB mapping"
grep -q '^smaps: Rss: *0 kB' /tmp/touch || fail "smaps: page cache behind the mapping"
grep -q '^smaps: VmFlags:.* hg' /tmp/touch || fail "smaps: not marked hg"
show_stats "after mmap of f"

# read(2) of a file in a subdirectory.
dd if=$M/sub/g of=/dev/null bs=1M 2>&1 | tail -n1
famfs_mmap_test verify $M/sub/g 3 || fail "verify sub/g"
# From a 4 KiB offset: the partial 2 MiB blocks fall back to 4 KiB pages.
fb=$(stat_of fault_fallback); pte=$(stat_of fault_pte)
famfs_mmap_test verify $M/sub/g 3 4096 || fail "verify sub/g at 4096"
[ "$(stat_of fault_fallback)" -gt "$fb" ] || fail "no PMD fallback"
[ "$(stat_of fault_pte)" -gt "$pte" ] || fail "no PTE faults"
md5sum $M/f $M/sub/g
# A file the host copied in with cp reads back identical, by read(2).
cmp $M/sub/famfs-tool.copy /bin/famfs-tool || fail "cp'd file differs"

# A striped file (128 chunks): one GET_FMAP carries its 4 strips (or the
# listing did, inline).
before=$(stat_of req_get_fmap); cached=$(stat_of fmaps_cached)
famfs_mmap_test verify $M/striped 21 || fail "verify striped"
[ $(($(stat_of req_get_fmap) - before)) = $want ] || fail "striped: not $want compact GET_FMAP"
[ $(($(stat_of fmaps_cached) - cached)) = $want ] || fail "striped: map not cached"

# famfs semantics: no unlink, rename, chmod, size changes.
if rm $M/f 2>/dev/null; then fail "unlink worked"; fi
if mv $M/f $M/f2 2>/dev/null; then fail "rename worked"; fi
if chmod 600 $M/f 2>/dev/null; then fail "chmod worked"; fi
if truncate -s 1M $M/f 2>/dev/null; then fail "truncate of f worked"; fi
if ln -s f $M/l 2>/dev/null; then fail "symlink worked"; fi
err=$(sh -c "echo x > $M/f" 2>&1) && fail "O_TRUNC worked"
case $err in *"not permitted"*) ;; *) fail "O_TRUNC: $err" ;; esac
touch $M/f || fail "touch of an existing file"
[ "$(stat -c %s $M/f)" = 67108864 ] || fail "f changed size"

# Creation (master): mkdir, and a file sized by its first truncate.
mkdir $M/newdir || fail "mkdir"
truncate -s 8M $M/newfile || fail "truncate -s 8M newfile"
[ "$(stat -c %s $M/newfile)" = 8388608 ] || fail "newfile size"
famfs_mmap_test write $M/newfile 9 || fail "mmap write newfile"
truncate -s 4M $M/newdir/w || fail "truncate -s 4M newdir/w"
famfs_mmap_test pwrite $M/newdir/w 11 || fail "pwrite newdir/w"
# fallocate gives a new file its size, once.
famfs_mmap_test fallocate $M/fa 4194304 || fail "fallocate create"
famfs_mmap_test fallocate $M/fa 2097152 || fail "fallocate inside the file"
if famfs_mmap_test fallocate $M/fa 8388608; then fail "fallocate grew fa"; fi
[ "$(stat -c %s $M/fa)" = 4194304 ] || fail "fa size"
# O_DIRECT works (DAX I/O is direct anyway).
dd if=$M/fa of=/dev/null bs=1M iflag=direct 2>/dev/null || fail "O_DIRECT read"
# Names longer than 79 bytes cannot exist.
long=$(printf 'n%.0s' $(seq 1 80))
err=$(mkdir $M/$long 2>&1) && fail "80-byte name worked"
case $err in *"too long"*) ;; *) fail "80-byte name: $err" ;; esac
if mkdir $M/newdir 2>/dev/null; then fail "mkdir of an existing name"; fi
# Names are byte strings: one holding the byte 0xff (not UTF-8) is
# created, found by lookup and by readdir, and written; the host lists it
# escaped and verifies its data (run-driver-tests.sh).
ff=$(printf 'b\377y')
truncate -s 2M "$M/$ff" || fail "create a name with the byte 0xff"
famfs_mmap_test write "$M/$ff" 23 || fail "mmap write b\\377y"
set -- $M/b*y
[ $# = 1 ] && [ "$1" = "$M/$ff" ] || fail "readdir: b*y is not b\\377y"
[ "$(stat -c %s "$M/$ff")" = 2097152 ] || fail "stat b\\377y"
# cp cannot make a famfs file: O_CREAT gives size 0, writes hit ENOSPC.
if cp $M/sub/g $M/copy 2>/tmp/err; then fail "cp worked"; fi
echo "cp: $(cat /tmp/err)"
# A file created but never sized is dropped when closed.
touch $M/ghost
if [ -e $M/ghost ]; then fail "unsized file stayed"; fi
ls -l $M $M/newdir
show_stats "after creating"

[ "$(stat_of req_errors)" = 0 ] || fail "req_errors is not 0"
umount $M || fail "umount"
# A read-only mount of the master's device refuses every change.
mount -t famfs -o ro famfs $M || fail "mount -o ro"
if mkdir $M/rodir 2>/dev/null; then fail "mkdir on ro mount"; fi
if famfs_mmap_test pwrite $M/newfile 3; then fail "write on ro mount"; fi
famfs_mmap_test verify $M/newfile 9 || fail "newfile after ro"
umount $M || fail "umount ro"
rmmod virtio_famfs || fail "rmmod"
echo "GUEST-CHECK: PASS"

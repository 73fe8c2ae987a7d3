#!/bin/sh
# Guest side of run-driver-tests.sh sync: fsync() and msync() write back
# what a shared mapping dirtied, through dax_writeback_mapping_range()
# (counted with the fs_dax:dax_writeback_one trace event), and only that.
set -e
M=/mnt
T=/sys/kernel/tracing
fail() { echo "GUEST-CHECK: FAIL $*"; exit 1; }
flushed() { grep -c 'dax_writeback_one:' $T/trace || true; }

mkdir -p $M $T
mount -t tracefs nodev $T 2>/dev/null || [ -d $T/events ] || fail "no tracefs"
[ -d $T/events/fs_dax ] || fail "no fs_dax trace events"
echo 1 > $T/events/fs_dax/dax_writeback_one/enable
mount -t famfs famfs $M || fail "mount"

# check HOW WHAT DATA EXPECT: sync by HOW (msync, fsync) after WHAT (write:
# DATA through a mapping, clean: nothing, wr2: DATA by write(2)); EXPECT
# some or none written back.
check() {
    echo > $T/trace
    case $2 in
        write) famfs_datapath_test mwrite $M/f 4096 "$3" "$1" || fail "mwrite $1" ;;
        clean) famfs_datapath_test sync $M/f "$1" || fail "sync $1" ;;
        wr2)   echo "$3" | dd of=$M/f bs=4096 seek=2 conv=notrunc 2>/dev/null || fail "write(2)"
               famfs_datapath_test sync $M/f "$1" || fail "sync $1" ;;
    esac
    n=$(flushed)
    echo "GUEST-CHECK: $1 after $2: $n entries written back"
    case $4 in
        some) [ "$n" -ge 1 ] || fail "$1 after $2 wrote nothing back" ;;
        none) [ "$n" = 0 ] || fail "$1 after $2 wrote back $n entries" ;;
    esac
}
check msync write DIRTY-1 some
check msync clean - none
check fsync write DIRTY-2 some
check fsync clean - none
check fsync wr2 WRITE2 none
# A dirty mapping left unsynced is written back at umount (syncfs).
famfs_datapath_test mwrite $M/f 8192 DIRTY-3 none || fail "mwrite none"
echo > $T/trace
umount $M || fail "umount"
n=$(flushed)
echo "GUEST-CHECK: umount: $n entries written back"
[ "$n" -ge 1 ] || fail "umount wrote nothing back"
echo 0 > $T/events/fs_dax/dax_writeback_one/enable
mount -t famfs famfs $M || fail "mount again"
[ "$(dd if=$M/f bs=1 skip=4096 count=7 2>/dev/null)" = DIRTY-2 ] || fail "DIRTY-2 not in f"
[ "$(dd if=$M/f bs=1 skip=8192 count=7 2>/dev/null)" = DIRTY-3 ] || fail "DIRTY-3 not in f"
umount $M || fail "umount"
rmmod virtio_famfs || fail "rmmod"
echo "GUEST-CHECK: PASS"

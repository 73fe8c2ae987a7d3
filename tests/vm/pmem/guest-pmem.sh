#!/bin/sh
# Guest side of run-pmem-tests.sh pmem: the virtio-famfs device offers no
# window (socket window=none); the window is a virtio-pmem device backed by
# the same device file. A second virtio-pmem device holds another famfs.
# The host made f (64 MiB, seed 7), w (64 MiB, seed 5), sub/g (4 MiB,
# seed 3); the socket is the master's.
set -e
. /pmem/common.sh
STATS=/sys/kernel/debug/virtio_famfs/famfs/stats
DRV=/sys/bus/virtio/drivers/virtio_famfs
ND=/sys/bus/nd/drivers/nd_pmem
T=/sys/kernel/tracing
stat_of() { sed -n "s/^$1 //p" "$STATS"; }
. /lib/removal.sh

# The famfs device has ID 45 here, as cloud-hypervisor's
# --generic-vhost-user device_type=45 would give it: the module loaded
# with the default stand-in (6) leaves it alone; device_id=0 is refused;
# device_id=45 binds it.
ko=$(ls /modules/*-virtio_famfs.ko)
[ "$(cat /sys/module/virtio_famfs/parameters/device_id)" = 6 ] || fail "default device_id"
if ls $DRV | grep -q '^virtio'; then fail "ID 45 bound without device_id"; fi
rmmod virtio_famfs || fail "rmmod"
if insmod $ko device_id=0 2>/dev/null; then fail "device_id=0 loaded"; fi
insmod $ko device_id=45 || fail "insmod device_id=45"
wait_for "ls $DRV | grep -q '^virtio'" 30 || fail "ID 45 not bound with device_id=45"
echo "GUEST-CHECK: PASS device_id: ID 45 bound only with device_id=45"

# The pmem devices by size: the famfs device is 1 GiB, another file
# system 2 GiB, a blank device 512 MiB.
wait_for '[ -e /dev/pmem0 ] && [ -e /dev/pmem1 ] && [ -e /dev/pmem2 ]' 60 || fail "no pmem0-2"
for p in pmem0 pmem1 pmem2; do
    size=$(($(cat /sys/block/$p/size) * 512))
    echo "$p: $size bytes, dax $(cat /sys/block/$p/queue/dax)"
    case $size in
        1073741824) PMEM=/dev/$p; NS=$(basename "$(readlink -f /sys/block/$p/device)") ;;
        2147483648) OTHER=/dev/$p ;;
        536870912) SMALL=/dev/$p ;;
    esac
done
[ -n "${PMEM:-}" ] && [ -n "${OTHER:-}" ] && [ -n "${SMALL:-}" ] || fail "pmem devices not found by size"
echo "famfs device: $PMEM ($NS), other file system: $OTHER"
dmesg | grep -q 'no shared memory window.*pmem=' || fail "probe did not point at pmem="
mkdir -p $M

# Without pmem= the mount fails and says how to give the window.
if mount -t famfs famfs $M 2>/tmp/err; then fail "mounted without a window"; fi
dmesg | grep -q 'famfs: tag famfs: .*-o pmem=' || fail "no message naming pmem="
echo "GUEST-CHECK: PASS no pmem=: $(dmesg | grep 'famfs: tag famfs:' | tail -n1)"

# Another file system's pmem device: refused, saying what differs.
if mount -t famfs -o pmem=$OTHER famfs $M 2>/tmp/err; then fail "mounted another file system"; fi
dmesg | grep -q "pmem=$OTHER: holds another file system" || fail "no fs_uuid message"
echo "GUEST-CHECK: PASS other fs: $(dmesg | grep "pmem=$OTHER" | tail -n1)"
# Smaller than the device.
if mount -t famfs -o pmem=$SMALL famfs $M 2>/dev/null; then fail "mounted a small device"; fi
dmesg | grep -q "pmem=$SMALL: 536870912 bytes, smaller than the device's 1073741824" ||
    fail "no size message"
echo "GUEST-CHECK: PASS small: $(dmesg | grep "pmem=$SMALL" | tail -n1)"
# Not a block device at all.
if mount -t famfs -o pmem=/dev/null famfs $M 2>/dev/null; then fail "mounted /dev/null"; fi

# A read-only mount opens the pmem device read-only: no rw remount.
mount -t famfs -o ro,pmem=$PMEM famfs $M || fail "mount ro"
mount -o remount,rw $M 2>/dev/null || true
grep -q " $M famfs ro," /proc/mounts || fail "ro pmem mount remounted read-write"
dmesg | grep -q "pmem=$PMEM is open read-only" || fail "no message for the rw remount"
umount $M || fail "umount ro"

mount -t famfs -o pmem=$PMEM famfs $M || fail "mount pmem=$PMEM"
grep " $M famfs " /proc/mounts
grep -q "pmem=$PMEM" /proc/mounts || fail "pmem= not in /proc/mounts"

# mmap of f: one GET_FMAP, every fault a PMD mapping through the pmem
# device (fs_dax tracepoints), the pattern the host wrote.
mount -t tracefs nodev $T 2>/dev/null || [ -d $T/events ] || fail "no tracefs"
echo 1 > $T/events/fs_dax/dax_pmd_fault_done/enable
echo > $T/trace
before=$(stat_of req_get_fmap); pmd=$(stat_of fault_pmd); pte=$(stat_of fault_pte)
famfs_mmap_test verify $M/f 7 || fail "mmap verify f"
[ $(($(stat_of req_get_fmap) - before)) = 1 ] || fail "f needed $(($(stat_of req_get_fmap) - before)) GET_FMAP, not 1"
pmd=$(($(stat_of fault_pmd) - pmd)); pte=$(($(stat_of fault_pte) - pte))
traced=$(grep -c 'dax_pmd_fault_done:.*NOPAGE' $T/trace || true)
echo 0 > $T/events/fs_dax/dax_pmd_fault_done/enable
echo "GUEST-CHECK: f: 1 GET_FMAP, $pmd PMD faults ($traced traced NOPAGE), $pte PTE faults"
[ $((pmd * 2048)) -ge $((65536 * 99 / 100)) ] || fail "only $pmd PMD faults for 64 MiB"
[ "$traced" -ge "$pmd" ] || fail "fs_dax saw $traced PMD faults, the driver $pmd"
[ "$pte" = 0 ] || fail "$pte PTE faults"
famfs_mmap_test verify $M/sub/g 3 >/dev/null || fail "verify sub/g"
echo "GUEST-MD5 $(md5sum $M/f | cut -d' ' -f1) f"
echo "GUEST-MD5 $(md5sum $M/sub/g | cut -d' ' -f1) sub/g"

# A write through a shared mapping reaches the device (the host checks).
famfs_mmap_test write $M/w 9 || fail "mmap write w"
echo "GUEST-CHECK: PASS pmem window: mount, mmap, read, write"

# The pmem device goes away while f is mapped and sub/g open.

start_holders pmem-unbind
echo $NS > $ND/unbind || fail "unbind $NS from nd_pmem"
wait_for "[ ! -e $PMEM ]" 30 || fail "$PMEM still there"
dmesg | grep -q "pmem window $PMEM removed while mounted" || fail "no removal message"
check_removed pmem-unbind

# The pmem device back; then the virtio device goes while the pmem window
# is in use.
echo $NS > $ND/bind || fail "bind $NS"
wait_for "[ -e $PMEM ]" 30 || fail "$PMEM did not come back"
mount -t famfs -o pmem=$PMEM famfs $M || fail "mount after rebind"
famfs_mmap_test verify $M/f 7 >/dev/null || fail "verify f after rebind"
vdev=$(basename "$(readlink -f $DRV/virtio*)")
start_holders virtio-unbind
echo $vdev > $DRV/unbind || fail "unbind $vdev"
check_removed virtio-unbind

# Nothing holds the pmem device any more: the module goes, the block
# device can be opened exclusively again.
rmmod virtio_famfs || fail "rmmod"
echo $NS > $ND/unbind && echo $NS > $ND/bind || fail "pmem rebind after rmmod"
echo "GUEST-CHECK: PASS removal of either device while mounted"

#!/bin/bash
# One cloud-hypervisor VM on one famfs device, with our module in the guest:
# metadata from vhost-famfs over a generic vhost-user device, file data
# through a virtio-pmem device that maps the same memory.
#
#   vhost-famfs serve -D /dev/dax0.0 -s /run/vhost-famfs/vm1.sock,window=none &
#   vmm-config/cloud-hypervisor/famfs-pmem.sh /run/vhost-famfs/vm1.sock /dev/dax0.0 \
#       --kernel vmlinux --cmdline "console=hvc0 root=/dev/vda1 rw" \
#       --disk path=disk.raw
#
# In the guest:
#   modprobe virtio_famfs && mount -t famfs famfs /mnt -o pmem=/dev/pmem0
#
# DEVICE is what the daemon serves (-D): the same path, so that the pmem
# device holds the same bytes. Arguments after it go to cloud-hypervisor
# as they are (boot: --kernel/--cmdline or --firmware, --disk, --net...).
# Environment:
#   CLOUD_HYPERVISOR  the binary (default cloud-hypervisor on PATH)
#   MEM (4G), CPUS (4), REQUEST_QUEUES (1, as the daemon's --request-queues)
#   DEVICE_ID   virtio device type (default 56, the provisional
#               virtio-famfs ID, which the module binds without a parameter;
#               see spec/virtio-famfs.md section 1)
#   PMEM_SIZE   bytes of DEVICE the guest sees (default: all of it)
#   READ_ONLY=1 discard_writes=on: the guest's writes to the pmem device
#               stay in private copies in this VM. Only for a regular file:
#               device-dax refuses the private mapping this needs, so with
#               /dev/daxX.Y cloud-hypervisor cannot start such a VM. Serve
#               the socket with role=ro as well.
#   DRY_RUN=1   print the command line instead of running it
#
# Why each argument (cloud-hypervisor v53; read in its source, see
# README.md beside this file):
# - --memory shared=on: vhost-user needs guest RAM the daemon can map
#   (cloud-hypervisor refuses vhost-user devices without it).
# - --generic-vhost-user: device_type=<number> takes any ID but those of
#   watchdog (35) and IOMMU (23), with no name table; queue_sizes has one entry per virtqueue, each a
#   power of two: the notification queue, then the request queues. 256 is
#   the daemon's largest queue. It offers the device no shared memory,
#   hence the daemon's window=none.
# - --pmem file=DEVICE,size=SIZE: maps DEVICE from offset 0, so pmem
#   offset = device offset = window offset, as the module needs. SIZE must
#   be a multiple of 2 MiB, and given for /dev/dax (its seek size is 0).
#
# Not run: cloud-hypervisor needs hardware KVM (or MSHV), which the
# project's test machines lack (README.md beside this file).
set -euo pipefail
usage="usage: famfs-pmem.sh SOCKET DEVICE [CLOUD-HYPERVISOR ARGS...]"
SOCK=${1:?$usage}
DEV=${2:?$usage}
shift 2
CH=${CLOUD_HYPERVISOR:-cloud-hypervisor}
MEM=${MEM:-4G}
CPUS=${CPUS:-4}
REQUEST_QUEUES=${REQUEST_QUEUES:-1}
DEVICE_ID=${DEVICE_ID:-56}
QUEUE_SIZE=256 # the daemon's largest (vhost-famfs/tests/vmm_config_ch.rs checks)
die() { echo "famfs-pmem.sh: $*" >&2; exit 1; }

case $REQUEST_QUEUES in
    [1-9]|1[0-6]) ;;
    *) die "REQUEST_QUEUES must be 1..16 (the daemon's --request-queues)" ;;
esac
case $DEVICE_ID in
    [1-9]|[1-5][0-9]|6[0-3]) ;;
    *) die "DEVICE_ID must be 1..63 (PCI device 0x1040 + ID)" ;;
esac
[ -e "$DEV" ] || die "$DEV does not exist"

# The size the guest sees: the whole device unless PMEM_SIZE says less.
if [ -n "${PMEM_SIZE:-}" ]; then
    size=$PMEM_SIZE
elif [ -c "$DEV" ]; then
    sysfs=/sys/bus/dax/devices/$(basename "$DEV")/size
    [ -r "$sysfs" ] || die "$DEV: no $sysfs (not a device-dax instance?); set PMEM_SIZE"
    size=$(cat "$sysfs")
elif [ -b "$DEV" ]; then
    die "$DEV is a block device: cloud-hypervisor --pmem maps files and device-dax instances"
else
    size=$(stat -L -c %s "$DEV")
fi
case $size in
    ''|*[!0-9]*) die "size $size: give PMEM_SIZE in bytes" ;;
esac
[ "$size" -gt 0 ] && [ $((size % (2 << 20))) -eq 0 ] ||
    die "size $size of $DEV is not a positive multiple of 2 MiB (cloud-hypervisor requires it)"

pmem="file=\"${DEV//\"/\"\"}\",size=$size"
if [ "${READ_ONLY:-0}" = 1 ]; then
    [ -f "$DEV" ] || die "READ_ONLY=1 needs a regular file, not $DEV: device-dax refuses the private mapping discard_writes=on makes"
    pmem+=",discard_writes=on"
fi

sizes=$QUEUE_SIZE
for _ in $(seq "$REQUEST_QUEUES"); do sizes+=",$QUEUE_SIZE"; done

# The socket path goes in double quotes (doubled inside): cloud-hypervisor's
# option parser then takes commas and quotes in it literally.
cmd=("$CH"
    --cpus boot="$CPUS"
    --memory size="$MEM",shared=on
    --generic-vhost-user "device_type=$DEVICE_ID,socket=\"${SOCK//\"/\"\"}\",queue_sizes=[$sizes]"
    --pmem "$pmem"
    "$@")
if [ "${DRY_RUN:-0}" = 1 ]; then
    printf '%q ' "${cmd[@]}"
    echo
    exit 0
fi
command -v "$CH" >/dev/null || die "no cloud-hypervisor binary $CH (set CLOUD_HYPERVISOR=/path/to/cloud-hypervisor)"
[ -S "$SOCK" ] || die "$SOCK is not a socket: start vhost-famfs serve first"
exec "${cmd[@]}"

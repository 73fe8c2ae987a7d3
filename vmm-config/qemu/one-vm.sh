#!/bin/bash
# One VM on one famfs device: QEMU 11.1 or later.
#
#   vhost-famfs serve -D /dev/dax0.0 --socket-path /run/vhost-famfs/vm1.sock &
#   vmm-config/qemu/one-vm.sh /run/vhost-famfs/vm1.sock disk.qcow2
#
# In the guest: modprobe virtio_famfs && mount -t famfs famfs /mnt
#
# DISK "none" boots without a disk (give -kernel/-initrd/-append after it).
# Environment:
#   QEMU             the QEMU binary (default qemu-system-x86_64 on PATH)
#   VHOST_FAMFS_ACCEL kvm, tcg, or auto (default): KVM where /dev/kvm is
#                    writable and the CPU has vmx/svm, else TCG (slower, but
#                    runs anywhere; as tests/vm/lib.sh chooses)
#   MEM (4G), SMP (4), REQUEST_QUEUES (1, as the daemon's --request-queues)
#
# Why each argument:
# - memory-backend-memfd,share=on: vhost-user needs guest RAM the daemon can
#   map (any shared backend works: memfd, or a file on hugetlbfs).
# - vhost-user-test-device-pci: QEMU's generic vhost-user device, the only
#   one that exposes VIRTIO shared memory (the DAX window) to the guest.
#   virtio-id=6 is the stand-in ID (spec section 1: QEMU 11.1 refuses IDs it
#   has no name for, such as the provisional 56); num_vqs = 1 notification
#   queue + request queues; config_size=96 is struct virtio_famfs_config.
# - No size property: the window size comes from the daemon
#   (GET_SHMEM_CONFIG) and is mapped when the guest driver starts.
# - -nic none: no network unless asked for (QEMU's default e1000e needs a
#   boot ROM that minimal QEMU installs lack); add one in QEMU ARGS, e.g.
#   -netdev user,id=n0 -device virtio-net-pci,netdev=n0
# - TCG: -cpu max offers pse/pdpe1gb, so the guest can map the window with
#   2 MiB and 1 GiB pages as it does under KVM.
#
# Tested with: QEMU 11.1.2 under TCG, the Debian 6.12 cloud kernel and our
# module, booting with DISK=none and -kernel/-initrd
# (tests/vm/run-driver-tests.sh vmmconfig: the guest mounts the file system
# and verifies a file the host wrote).
set -euo pipefail
usage="usage: one-vm.sh SOCKET DISK|none [QEMU ARGS...]"
SOCK=${1:?$usage}
DISK=${2:?$usage}
shift 2
QEMU=${QEMU:-qemu-system-x86_64}
MEM=${MEM:-4G}
SMP=${SMP:-4}
REQUEST_QUEUES=${REQUEST_QUEUES:-1}
command -v "$QEMU" >/dev/null || { echo "one-vm.sh: no QEMU binary $QEMU (set QEMU=/path/to/qemu-system-x86_64)" >&2; exit 1; }
[ -S "$SOCK" ] || { echo "one-vm.sh: $SOCK is not a socket: start vhost-famfs serve first" >&2; exit 1; }
case ${VHOST_FAMFS_ACCEL:-auto} in
    kvm|tcg) accel=$VHOST_FAMFS_ACCEL ;;
    auto)
        if [ -w /dev/kvm ] && grep -qw -e vmx -e svm /proc/cpuinfo; then accel=kvm; else accel=tcg; fi ;;
    *) echo "one-vm.sh: VHOST_FAMFS_ACCEL must be kvm, tcg or auto" >&2; exit 1 ;;
esac
case $accel in
    kvm) acc=(-accel kvm -cpu host) ;;
    tcg) acc=(-accel tcg,thread=multi -cpu max) ;;
esac
disk=()
[ "$DISK" = none ] || disk=(-drive file="$DISK",if=virtio)
exec "$QEMU" \
    -machine q35,memory-backend=mem "${acc[@]}" -smp "$SMP" -m "$MEM" \
    -object memory-backend-memfd,id=mem,size="$MEM",share=on \
    -chardev socket,id=famfs0,path="$SOCK" \
    -device vhost-user-test-device-pci,chardev=famfs0,virtio-id=6,num_vqs=$((REQUEST_QUEUES + 1)),config_size=96 \
    "${disk[@]}" \
    -nic none -nographic "$@"

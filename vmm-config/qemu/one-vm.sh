#!/bin/bash
# One VM on one famfs device: QEMU 11.1 or later.
#
#   vhost-famfs serve -D /dev/dax0.0 -s /run/vhost-famfs/vm1.sock &
#   vmm-config/qemu/one-vm.sh /run/vhost-famfs/vm1.sock disk.qcow2
#
# In the guest: modprobe virtio_famfs && mount -t famfs famfs /mnt
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
set -euo pipefail
SOCK=${1:?usage: one-vm.sh SOCKET DISK [QEMU ARGS...]}
DISK=${2:?usage: one-vm.sh SOCKET DISK [QEMU ARGS...]}
shift 2
MEM=${MEM:-4G}
exec qemu-system-x86_64 \
    -machine q35,accel=kvm -cpu host -smp 4 -m "$MEM" \
    -object memory-backend-memfd,id=mem,size="$MEM",share=on \
    -machine memory-backend=mem \
    -chardev socket,id=famfs0,path="$SOCK" \
    -device vhost-user-test-device-pci,chardev=famfs0,virtio-id=6,num_vqs=2,config_size=96 \
    -drive file="$DISK",if=virtio \
    -nographic "$@"

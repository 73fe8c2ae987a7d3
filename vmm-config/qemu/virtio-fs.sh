#!/bin/bash
# One VM with a stock kernel (no module) on a virtio-fs socket: any QEMU
# version with vhost-user-fs-pci (copy mode: data travels in FUSE READ and
# WRITE requests; no DAX window).
#
#   vhost-famfs serve -D /dev/dax0.0 -s /run/vhost-famfs/vm1.sock,proto=virtio-fs,tag=famfs &
#   vmm-config/qemu/virtio-fs.sh /run/vhost-famfs/vm1.sock disk.qcow2
#
# In the guest: mount -t virtiofs famfs /mnt
#
# Why each argument:
# - memory-backend-memfd,share=on: the daemon copies straight into guest
#   RAM, so it must be able to map it.
# - vhost-user-fs-pci: QEMU's virtio-fs device (virtio ID 26). Its tag=
#   is what the guest mounts; keep it equal to the socket's tag=.
#   num-request-queues must not exceed the daemon's --request-queues.
# - No cache-size: QEMU's vhost-user-fs-pci has no DAX window.
set -euo pipefail
SOCK=${1:?usage: virtio-fs.sh SOCKET DISK [QEMU ARGS...]}
DISK=${2:?usage: virtio-fs.sh SOCKET DISK [QEMU ARGS...]}
shift 2
MEM=${MEM:-4G}
TAG=${TAG:-famfs}
exec qemu-system-x86_64 \
    -machine q35,accel=kvm -cpu host -smp 4 -m "$MEM" \
    -object memory-backend-memfd,id=mem,size="$MEM",share=on \
    -machine memory-backend=mem \
    -chardev socket,id=fs0,path="$SOCK" \
    -device vhost-user-fs-pci,chardev=fs0,tag="$TAG",num-request-queues=1 \
    -drive file="$DISK",if=virtio \
    -nographic "$@"

#!/bin/bash
# One VM with a stock guest kernel on a virtio-fs DAX window: QEMU 11.1 or
# later, no guest module.
#
#   vhost-famfs serve -D /dev/dax0.0 \
#       -s /run/vhost-famfs/vm1.sock,proto=virtio-fs,tag=famfs,dax-window=1G &
#   vmm-config/qemu/virtiofs-dax.sh /run/vhost-famfs/vm1.sock disk.qcow2
#
# In the guest: mount -t virtiofs famfs /mnt -o dax=always
#
# Why each argument:
# - memory-backend-memfd,share=on: vhost-user needs guest RAM the daemon can
#   map.
# - vhost-user-test-device-pci,virtio-id=26: QEMU's generic vhost-user
#   device as a virtio-fs device (ID 26); it is the only QEMU device that
#   exposes vhost-user shared memory, and the guest's virtiofs driver
#   takes region 0 as its DAX cache window. QEMU's vhost-user-fs-pci has
#   no window (copy mode only).
# - num_vqs = 1 high-priority queue + the daemon's --request-queues (1 by
#   default); config_size=40 is struct virtio_fs_config (tag[36] and the
#   request queue count).
# - No size property: the window's size is the socket's dax-window=, sent
#   to QEMU in GET_SHMEM_CONFIG; the daemon maps 2 MiB ranges into it as
#   the guest asks (FUSE_SETUPMAPPING), never before the driver started.
# Measured with QEMU 11.1.2 and Debian's 6.12 kernel (tests/vm/run-dax-tests.sh).
set -euo pipefail
SOCK=${1:?usage: virtiofs-dax.sh SOCKET DISK [QEMU ARGS...]}
DISK=${2:?usage: virtiofs-dax.sh SOCKET DISK [QEMU ARGS...]}
shift 2
MEM=${MEM:-4G}
RQ=${RQ:-1}
exec qemu-system-x86_64 \
    -machine q35,accel=kvm -cpu host -smp 4 -m "$MEM" \
    -object memory-backend-memfd,id=mem,size="$MEM",share=on \
    -machine memory-backend=mem \
    -chardev socket,id=fs0,path="$SOCK" \
    -device vhost-user-test-device-pci,chardev=fs0,virtio-id=26,num_vqs=$((RQ + 1)),config_size=40 \
    -drive file="$DISK",if=virtio \
    -nographic "$@"

#!/bin/bash
# One cloud-hypervisor VM with a stock guest kernel (no module) on a
# virtio-fs socket: copy mode, data travels in FUSE READ and WRITE requests.
#
#   vhost-famfs serve -D /dev/dax0.0 \
#       -s /run/vhost-famfs/vm1.sock,proto=virtio-fs,tag=famfs,role=client &
#   vmm-config/cloud-hypervisor/virtio-fs.sh /run/vhost-famfs/vm1.sock \
#       --kernel vmlinux --cmdline "console=hvc0 root=/dev/vda1 rw" \
#       --disk path=disk.raw
#
# In the guest: mount -t virtiofs famfs /mnt
#
# Arguments after SOCKET go to cloud-hypervisor as they are.
# Environment:
#   CLOUD_HYPERVISOR  the binary (default cloud-hypervisor on PATH)
#   MEM (4G), CPUS (4)
#   TAG (famfs)       the mount tag: keep it equal to the socket's tag=
#   REQUEST_QUEUES (1) at most the daemon's --request-queues and at most
#                     CPUS (cloud-hypervisor checks the second)
#   DRY_RUN=1         print the command line instead of running it
#
# Why each argument (cloud-hypervisor v53, read in its source):
# - --memory shared=on: the daemon copies straight into guest RAM.
# - --fs queue_size=256: the daemon's largest queue. cloud-hypervisor's
#   default (1024) is larger, and the daemon would refuse it when the
#   guest sets the queues up.
# - --fs has no DAX window (removed in cloud-hypervisor v25): this is copy
#   mode whatever the socket says, so do not give it dax-window=.
#
# Not run: cloud-hypervisor needs hardware KVM (README.md beside this file).
set -euo pipefail
usage="usage: virtio-fs.sh SOCKET [CLOUD-HYPERVISOR ARGS...]"
SOCK=${1:?$usage}
shift
CH=${CLOUD_HYPERVISOR:-cloud-hypervisor}
MEM=${MEM:-4G}
CPUS=${CPUS:-4}
TAG=${TAG:-famfs}
REQUEST_QUEUES=${REQUEST_QUEUES:-1}
die() { echo "virtio-fs.sh: $*" >&2; exit 1; }

case $REQUEST_QUEUES in
    [1-9]|1[0-6]) ;;
    *) die "REQUEST_QUEUES must be 1..16 (the daemon's --request-queues)" ;;
esac
[ "${#TAG}" -le 35 ] || die "TAG is longer than 35 bytes"

# Values in double quotes (doubled inside): cloud-hypervisor's option
# parser then takes commas and quotes in them literally.
cmd=("$CH"
    --cpus boot="$CPUS"
    --memory size="$MEM",shared=on
    --fs "tag=\"${TAG//\"/\"\"}\",socket=\"${SOCK//\"/\"\"}\",num_queues=$REQUEST_QUEUES,queue_size=256"
    "$@")
if [ "${DRY_RUN:-0}" = 1 ]; then
    printf '%q ' "${cmd[@]}"
    echo
    exit 0
fi
command -v "$CH" >/dev/null || die "no cloud-hypervisor binary $CH (set CLOUD_HYPERVISOR=/path/to/cloud-hypervisor)"
[ -S "$SOCK" ] || die "$SOCK is not a socket: start vhost-famfs serve first"
exec "${cmd[@]}"

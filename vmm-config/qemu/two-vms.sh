#!/bin/bash
# Two VMs sharing one famfs device. Both layouts work:
#
# one daemon, one socket per VM (roles per socket):
#   vhost-famfs serve -D /dev/dax0.0 \
#       -s /run/vhost-famfs/vm1.sock,role=master \
#       -s /run/vhost-famfs/vm2.sock,role=client &
#
# or one daemon per VM on the same device:
#   vhost-famfs serve -D /dev/dax0.0 --socket-path /run/vhost-famfs/vm1.sock --socket-options role=master &
#   vhost-famfs serve -D /dev/dax0.0 --socket-path /run/vhost-famfs/vm2.sock --socket-options role=client &
#
# then:
#   vmm-config/qemu/two-vms.sh disk1.qcow2 disk2.qcow2
#
# Each VM is an ordinary one-vm.sh VM (same environment: QEMU,
# VHOST_FAMFS_ACCEL, MEM, SMP); they share bytes because both windows map
# the same device. Their consoles are UNIX sockets in SOCKDIR
# (default /run/vhost-famfs): e.g. `socat - UNIX:/run/vhost-famfs/vm1.console`.
#
# Tested with: QEMU 11.1.2 under TCG through one-vm.sh (see there); the
# two-VM layouts are what tests/vm/run-sharing-tests.sh runs.
set -euo pipefail
D1=${1:?usage: two-vms.sh DISK1 DISK2}
D2=${2:?usage: two-vms.sh DISK1 DISK2}
HERE=$(dirname "$0")
SOCKDIR=${SOCKDIR:-/run/vhost-famfs}
"$HERE/one-vm.sh" "$SOCKDIR/vm1.sock" "$D1" -name vm1 -serial unix:"$SOCKDIR/vm1.console",server,nowait -display none -monitor none &
"$HERE/one-vm.sh" "$SOCKDIR/vm2.sock" "$D2" -name vm2 -serial unix:"$SOCKDIR/vm2.console",server,nowait -display none -monitor none &
wait

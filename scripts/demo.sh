#!/bin/bash
# The vhost-famfs demo: two VMs share one memory device as a famfs file
# system. vm-a writes a file, vm-b reads the same bytes through its own
# mapping of the same memory.
#
# Usage: scripts/demo.sh [DEVICE]
#   DEVICE  a device-DAX instance (/dev/daxX.Y) to use instead of the
#           default file-backed device (a 1 GiB sparse file on /dev/shm).
#           Everything on it is overwritten.
#
# On a fresh machine (Debian bookworm amd64, root, a Rust toolchain) it
# fetches QEMU 11.1, a Debian 6.12 guest kernel and busybox into a cache
# (tests/vm/provision.sh), builds the daemon (cargo, release) and the guest
# module, formats the device, starts `vhost-famfs serve` with one socket
# per VM (vm-a master, vm-b client), boots both VMs at once and reports
# what happened. About 15-30 s once cached (TCG, 2 cores); the first run
# downloads about 120 MB.
#
# Knobs: VM_KEEP=1 keeps the logs (daemon, both consoles); the
# tests/vm/lib.sh knobs (VHOST_FAMFS_ACCEL, VM_MEM, ...).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

T0=$(date +%s%N)
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
secs() { printf '%d.%d s' $(($1 / 1000)) $(($1 % 1000 / 100)); }
step() { printf '[demo %5.1fs] %s\n' "$(ms_since "$T0")e-3" "$*" >&2; }
die() { echo "demo: $*" >&2; exit 1; }

DEV=${1:-}
if [ -n "$DEV" ]; then
    [ -c "$DEV" ] || die "$DEV is not a character device (expected /dev/daxX.Y)"
fi

step "provisioning QEMU 11.1, the Debian 6.12 guest kernel and busybox (tests/vm/provision.sh, cached after the first run)"
t=$(date +%s%N)
. tests/vm/lib.sh
vm_setup
T_PROV=$(ms_since "$t")
tmp=$(vm_tmpdir)
if [ -z "$DEV" ]; then
    DEV=$(mktemp -u /dev/shm/vhost-famfs-demo.XXXXXX)
    trap 'rm -f "$DEV"; vm_cleanup' EXIT
fi

step "building vhost-famfs (cargo build --release)"
t=$(date +%s%N)
cargo build --release --locked --quiet -p vhost-famfs
B=$ROOT/target/release/vhost-famfs
step "building virtio_famfs.ko (Linux $KVER headers) and the static guest tools"
gcc -static -O2 -Wall -Wextra -o "$tmp/famfs-tool" tests/vm/guest/famfs-tool.c
mapfile -t kos < <(vm_build_module guest-driver "$tmp/mod")
items=()
for f in tests/vm/sharing/common.sh tests/vm/sharing/guest-demo.sh; do items+=("$f:/sharing/${f##*/}"); done
vm_build_initramfs "$tmp/ir.cpio.gz" tests/vm/sharing/guest-main.sh "${kos[@]}" "$tmp/famfs-tool" "${items[@]}"
T_BUILD=$(ms_since "$t")

# The demo host is the file system's master: a system uuid of its own
# instead of touching /opt/famfs on this machine.
export VHOST_FAMFS_DEVICE=$DEV
export VHOST_FAMFS_SYSTEM_UUID=${VHOST_FAMFS_SYSTEM_UUID:-$(cat /proc/sys/kernel/random/uuid)}
if [ -c "$DEV" ]; then
    step "formatting $DEV"
    "$B" mkfs --force >"$tmp/mkfs.log"
else
    step "formatting $DEV (a 1 GiB sparse file standing in for /dev/dax)"
    "$B" mkfs --size 1G >"$tmp/mkfs.log"
fi
# A small control file the VMs use to tell each other "I am mounted".
"$B" creat -s 2M ctl

step "starting vhost-famfs serve: vm-a.sock (role=master), vm-b.sock (role=client)"
"$B" -v serve -s "$tmp/vm-a.sock,role=master" -s "$tmp/vm-b.sock,role=client" >"$tmp/daemon.log" 2>&1 &
vm_register_pid $!
vm_wait_socket "$tmp/vm-a.sock" 10 && vm_wait_socket "$tmp/vm-b.sock" 10

step "booting vm-a and vm-b (QEMU $QEMU_VERSION, $(vm_accel | tr a-z A-Z), Debian $KVER)"
t=$(date +%s%N)
for vm in a b; do
    VM_MEM=${VM_MEM:-512M} VM_SMP=${VM_SMP:-1} VM_APPEND="famfs_test.scenario=demo famfs_test.vm=$vm" \
        vm_start "$vm" "$tmp/ir.cpio.gz" "$tmp/vm-$vm.log" \
        -chardev socket,id=fs0,path="$tmp/vm-$vm.sock" \
        -device vhost-user-test-device-pci,chardev=fs0,virtio-id=6,num_vqs=2,config_size=96 2>>"$tmp/vm.log"
done
ok=1
for vm in a b; do
    if ! vm_wait "$vm" 120 2>>"$tmp/vm.log"; then
        ok=0
        echo "demo: vm-$vm failed; its console:" >&2
        tail -n 30 "$tmp/vm-$vm.log" | tr -d '\r' | sed 's/^/    /' >&2
    fi
done
T_VMS=$(ms_since "$t")
[ $ok = 1 ] || { VM_KEEP=1; die "failed (logs kept in $tmp)"; }

echo
echo "What happened:"
for vm in a b; do
    tr -d '\r' <"$tmp/vm-$vm.log" | sed -n "s/^GUEST-DEMO: /  vm-$vm  /p"
done
off=$((16#$("$B" getmap shared/hello.txt | awk '/^\t\t/ {print $1; exit}')))
msg=$(tr -d '\r' <"$tmp/vm-a.log" | sed -n '/^GUEST-DEMO: wrote /s/.*: "\(.*\)"$/\1/p')
if [ -f "$DEV" ]; then
    got=$(dd if="$DEV" iflag=skip_bytes,count_bytes skip="$off" count=${#msg} status=none)
    [ "$got" = "$msg" ] || die "the device holds \"$got\" at $off, not the message"
    echo "  host  the device file holds the same bytes at offset $(printf %#x "$off") (shared/hello.txt's extent)"
else
    echo "  host  shared/hello.txt lies at device offset $(printf %#x "$off")"
fi
fsck=$("$B" fsck | tail -n1)
echo "  host  vhost-famfs fsck: $fsck; $("$B" ls -l shared | awk '{print $NF " " $4 " bytes"}')"
echo
echo "Timings: provisioning $(secs "$T_PROV"), builds $(secs "$T_BUILD"), both VMs booted, shared the file and powered off in $(secs "$T_VMS"); total $(secs "$(ms_since "$T0")")."
[ "$fsck" = clean ]

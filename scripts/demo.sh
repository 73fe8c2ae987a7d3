#!/bin/bash
# The vhost-famfs demo: formats a memory device, fills it from the host,
# and checks it, printing what happened in a few lines.
#
# Usage: scripts/demo.sh [DEVICE]
#   DEVICE  a device-DAX instance (/dev/daxX.Y) to use instead of the
#           default file-backed device (a 4 GiB sparse file on tmpfs).
#           Everything on it is overwritten.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '%s\n' "$*"; }
progress() { printf '  ... %s\n' "$*" >&2; }

DEV=${1:-}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vhost-famfs-demo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
if [ -z "$DEV" ]; then
    base=/dev/shm
    [ -d "$base" ] && [ -w "$base" ] || base=$WORK
    DEV=$(mktemp -u "$base/vhost-famfs-demo-dev.XXXXXX")
    trap 'rm -rf "$WORK" "$DEV"' EXIT
    SIZE_ARG=(--size 4G)
    say "device: $DEV (4 GiB sparse file standing in for /dev/dax)"
else
    SIZE_ARG=()
    say "device: $DEV"
fi

progress "building vhost-famfs (release)"
cargo build --release --locked --quiet -p vhost-famfs
B=$PWD/target/release/vhost-famfs

# The demo host is the file system's master: give it a system uuid of
# its own instead of touching /opt/famfs on this machine.
export VHOST_FAMFS_DEVICE=$DEV
export VHOST_FAMFS_SYSTEM_UUID=${VHOST_FAMFS_SYSTEM_UUID:-$(cat /proc/sys/kernel/random/uuid)}

say "$("$B" mkfs --force "${SIZE_ARG[@]}")"
"$B" mkdir -p shared/inbox
"$B" creat -s 64M -S 1234 shared/pattern.bin
head -c $((32 << 20)) /dev/urandom > "$WORK/payload.bin"
"$B" cp "$WORK/payload.bin" shared/inbox/payload.bin
say "created shared/pattern.bin (64 MiB, seed 1234) and copied a 32 MiB payload:"
"$B" ls -l shared | sed 's/^/  /'
"$B" ls -l shared/inbox | sed 's/^/  /'
say "$("$B" verify -S 1234 shared/pattern.bin)"
off=$("$B" getmap shared/inbox/payload.bin | awk '/^\t\t/ {print $1; exit}')
if [ -f "$DEV" ]; then
    # Read the device file at the offset getmap reports: the bytes are there.
    if cmp -s <(tail -c +$((16#$off + 1)) "$DEV" | head -c $((32 << 20))) "$WORK/payload.bin"; then
        say "payload.bin: the device holds the source's bytes at offset 0x$off"
    else
        say "payload.bin: MISMATCH at device offset 0x$off"
        exit 1
    fi
fi
"$B" fsck | grep -E '^  (used|free|log entries|files) ' | sed 's/^ */fsck: /'
"$B" fsck | tail -n 1 | sed 's/^/fsck: /'

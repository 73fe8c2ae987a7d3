#!/bin/bash
# Real-guest check of the host-side read-only pmem device that the pmem
# window's deployment advice relies on (docs/sharing.md, spec section
# 9.3): QEMU's virtio-pmem-pci on a memory-backend-file with readonly=on.
# A stock Debian 6.12 guest (virtio_pmem and nd_pmem from the distro, no
# module of ours) writes 4 KiB into /dev/pmem0 and reads it back.
#
#   tests/vm/run-readonly-pmem-tests.sh [SCENARIO...]
#
# Scenarios (default: all):
#   rw   control: a share=on backend; the guest reads back its bytes and
#        the host file holds them (so the check can see a write)
#   ro   readonly=on: the guest's write is dropped (it reads back the
#        original bytes) and the host file is byte-for-byte unchanged
#
# Knobs: VM_KEEP=1 keeps logs, and the tests/vm/lib.sh knobs.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
. tests/vm/lib.sh

vm_scenarios "rw ro" "" "$@" || exit 2
set -- "${VM_SCENARIOS[@]}"

vm_setup
tmp=$(vm_tmpdir)
kos=()
for m in libnvdimm nd_btt nd_pmem nd_virtio virtio_pmem; do kos+=("$(vm_distro_kmod "$m")"); done
vm_build_initramfs "$tmp/ir.cpio.gz" tests/vm/readonly-pmem/guest-main.sh "${kos[@]}"

# The bytes at 1 MiB .. 1 MiB + 4 KiB of FILE as 'Z' (what the guest
# wrote), 'orig' (0xab, as created) or 'other'.
host_bytes() {
    python3 - "$1" <<'PY'
import sys
with open(sys.argv[1], "rb") as f:
    f.seek(1 << 20)
    b = f.read(4096)
print("Z" if b == b"Z" * 4096 else "orig" if b == b"\xab" * 4096 else "other")
PY
}

rc=0
for s in "$@"; do
    img=$tmp/$s.img
    python3 -c "open('$img', 'wb').write(b'\xab' * (64 << 20))"
    sum0=$(sha256sum "$img" | cut -d' ' -f1)
    backend=share=on
    [ "$s" = ro ] && backend=share=on,readonly=on
    VM_APPEND="pmemtest=$s" vm_start "$s" "$tmp/ir.cpio.gz" "$tmp/$s.log" \
        -m "${VM_MEM:-1G}",slots=2,maxmem=4G \
        -object memory-backend-file,id=pm0,mem-path="$img",size=64M,$backend \
        -device virtio-pmem-pci,memdev=pm0
    ok=1
    vm_wait "$s" 180 || ok=0
    log=$tmp/$s.log
    case $s in
        rw)
            log_has "$log" 'GUEST: read back the written bytes' || { vm_log "rw: guest did not read back its write"; ok=0; }
            [ "$(host_bytes "$img")" = Z ] || { vm_log "rw: host file lacks the guest's write"; ok=0; } ;;
        ro)
            log_has "$log" 'GUEST: read back the original bytes' || { vm_log "ro: guest did not read back the original bytes"; ok=0; }
            [ "$(sha256sum "$img" | cut -d' ' -f1)" = "$sum0" ] || { vm_log "ro: host file changed"; ok=0; } ;;
    esac
    if [ $ok = 1 ]; then echo "readonly-pmem $s: PASS"; else echo "readonly-pmem $s: FAIL"; rc=1; fi
    rm -f "$img"
done
exit $rc

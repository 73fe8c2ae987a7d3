#!/bin/bash
# Boots stock Debian 6.12 guests (no module of ours) on a virtio-fs device
# with a DAX window: QEMU 11.1's vhost-user-test-device-pci with
# virtio-id=26 and a vhost-famfs socket given proto=virtio-fs,dax-window=.
# The guest mounts -t virtiofs -o dax=always and runs dax/guest-dax.sh.
#
#   tests/vm/run-dax-tests.sh [SCENARIO...]
#
# Scenarios (default: all):
#   dax     256 MiB window: mmap and read(2) of a 256 MiB file match its
#           seeded pattern; a write through a shared mapping is on the
#           device (host verify); SETUPMAPPING per GiB mapped reported
#   small   64 MiB window serving the same 256 MiB file: the guest
#           reclaims ranges (REMOVEMAPPING), every byte still right
#   share   two guests, one after the other, on two sockets: A writes a
#           file through a shared mapping, B reads A's bytes by mmap
#   ro      role=ro socket: mmap reads work, the write mapping is refused
#   bench   (only when named) one guest, the same 256 MiB file behind our
#           module, virtio-fs DAX, virtio-fs copy mode and (if $VIRTIOFSD
#           names a virtiofsd binary) virtiofsd: mmap passes against
#           anonymous memory, read(2), opening 10,000 small files and
#           the requests per open by opcode (the daemon's status report
#           via --control-socket, virtiofsd's debug log, the module's
#           debugfs total); see docs/benchmarks.md
# Knobs: VM_KEEP=1 keeps logs; the tests/vm/lib.sh knobs.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TESTS=$ROOT/tests/vm/dax
cd "$ROOT"
. tests/vm/lib.sh
vm_scenarios "dax small share ro" bench "$@" || exit 2
vm_daemon_setup virtio-famfs-dax

gcc -O2 -Wall -static -o "$tmp/famfs_mmap_test" "$ROOT/tests/vm/guest/famfs_mmap_test.c"

fresh_fs() {
    rm -f "$VHOST_FAMFS_DEVICE"
    "$BIN" mkfs --size 1G >/dev/null
    "$BIN" creat -s 256M -S 7 big
    "$BIN" creat -s 16M -S 1 shared
}

# guest NAME SOCKET_OPTS [DAX_ROLE]: one guest on a fresh daemon socket;
# its daemon log is $tmp/NAME.daemon.log.
guest() {
    local name=$1 opts=$2 role=${3:-master} rc=0 pid
    sed "s/\${DAX_ROLE:-master}/$role/" "$TESTS/guest-dax.sh" >"$tmp/$name.sh"
    vm_build_initramfs "$tmp/$name.cpio.gz" "$tmp/$name.sh" "$tmp/famfs_mmap_test"
    rm -f "$tmp/$name.sock"
    "$BIN" -v serve -s "$tmp/$name.sock,proto=virtio-fs,tag=famfs,$opts" \
        >"$tmp/$name.daemon.log" 2>&1 &
    pid=$!
    vm_register_pid "$pid"
    vm_wait_socket "$tmp/$name.sock" 10
    vm_start "$name" "$tmp/$name.cpio.gz" "$tmp/$name.log" \
        -chardev socket,id=fs0,path="$tmp/$name.sock" \
        -device vhost-user-test-device-pci,chardev=fs0,virtio-id=26,num_vqs=2,config_size=40
    vm_wait "$name" 900 || rc=1
    tr -d '\r' <"$tmp/$name.log" | grep -a -E 'GUEST-CHECK|GUEST-SUM|virtiofs|Cache len|^(ok|FAIL)' || true
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if grep -q -E 'panicked|SHMEM_MAP .* failed' "$tmp/$name.daemon.log"; then
        grep -E 'panicked|SHMEM_MAP' "$tmp/$name.daemon.log" | head >&2
        rc=1
    fi
    return $rc
}

# stats NAME: the daemon's DAX counters at unmount: "SETUPS MIB REMOVES REFUSED".
stats() {
    sed -n 's/.*DAX window: \([0-9]*\) SETUPMAPPING (\([0-9]*\) MiB mapped), \([0-9]*\) ranges removed, \([0-9]*\) refused.*/\1 \2 \3 \4/p' \
        "$tmp/$1.daemon.log" | head -n1
}

# The guest's read(2) checksum of big equals the host's.
host_sum() {
    local want got
    want=$(python3 - "$VHOST_FAMFS_DEVICE" "$("$BIN" getmap big)" <<'PY'
import hashlib, re, sys
dev, fmap = sys.argv[1], sys.argv[2]
h = hashlib.md5()
left = 256 << 20
with open(dev, "rb") as f:
    # getmap prints each extent as "<hex device offset>\t<decimal length>".
    for off, ln in re.findall(r"^\s+([0-9a-f]+)\s+([0-9]+)$", fmap, re.M):
        f.seek(int(off, 16))
        n = min(int(ln), left)
        h.update(f.read(n))
        left -= n
print(h.hexdigest())
PY
)
    got=$(tr -d '\r' <"$tmp/$1.log" | sed -n 's/^GUEST-SUM big //p')
    echo "host md5 $want, guest md5 $got"
    [ -n "$got" ] && [ "$got" = "$want" ] && [ "$want" != d41d8cd98f00b204e9800998ecf8427e ]
}

# share: two guests at once on one daemon (a socket each). B maps the
# file's old bytes, A writes new ones through its shared mapping, B sees
# them through its window: both map the same device memory.
share() {
    local rc=0 pid r
    for r in writer reader; do
        sed "s/\${DAX_ROLE:-master}/$r/" "$TESTS/guest-dax.sh" >"$tmp/share-$r.sh"
        vm_build_initramfs "$tmp/share-$r.cpio.gz" "$tmp/share-$r.sh" "$tmp/famfs_mmap_test"
        rm -f "$tmp/share-$r.sock"
    done
    "$BIN" -v serve -s "$tmp/share-writer.sock,proto=virtio-fs,tag=famfs,dax-window=128M" \
        -s "$tmp/share-reader.sock,proto=virtio-fs,tag=famfs,dax-window=128M" \
        >"$tmp/share.daemon.log" 2>&1 &
    pid=$!
    vm_register_pid "$pid"
    vm_wait_socket "$tmp/share-writer.sock" 10
    vm_wait_socket "$tmp/share-reader.sock" 10
    : >"$tmp/share-reader.log"
    vm_on_marker "$tmp/share-reader.log" "GUEST-HOST: reader-mapped" "$BIN" creat -s 2M go
    for r in writer reader; do
        vm_start "share-$r" "$tmp/share-$r.cpio.gz" "$tmp/share-$r.log" \
            -chardev socket,id=fs0,path="$tmp/share-$r.sock" \
            -device vhost-user-test-device-pci,chardev=fs0,virtio-id=26,num_vqs=2,config_size=40
    done
    vm_wait share-writer 900 || rc=1
    vm_wait share-reader 900 || rc=1
    for r in writer reader; do
        tr -d '\r' <"$tmp/share-$r.log" | grep -a -E 'GUEST-CHECK' | sed "s/^/$r: /" || true
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    ! grep -q panicked "$tmp/share.daemon.log" || rc=1
    "$BIN" verify -S 9 shared || rc=1
    return $rc
}

# req_snapshot DOOR ROUND WHEN: one "HOST-REQ" line with the request counts,
# by opcode, of DOOR's server right now: the daemon's status report for
# its sockets, virtiofsd's debug log (one "Received request" line per
# request; FORGET and INTERRUPT are left out as the daemon leaves them).
req_snapshot() {
    local counts
    if [ "$1" = vfsd ]; then
        counts=$(sed -n 's/.*Received request: opcode=\([A-Za-z]*\).*/\1/p' "$tmp/vfsd.log" |
            grep -v -x -E 'Forget|BatchForget|Interrupt' | sort | uniq -c |
            awk '{ printf "%s=%s ", tolower($2), $1 }')
    else
        counts=$("$BIN" status --control-socket "$tmp/bench.ctl" |
            awk -v s="socket $tmp/bench-$1.sock" \
                '$0 == s { f = 1 } f && $1 == "requests" { $1 = ""; print; exit }')
    fi
    echo "HOST-REQ $1 $2 $3 requests ${counts# }"
}

# req_watch: while the bench guest runs, answer each open10k marker it
# prints with req_snapshot, into $tmp/host-req.txt. tail reads the log from
# its start and ends with QEMU.
req_watch() {
    local line
    tail --pid="${VM_PID[bench]}" -n +1 -F "$tmp/bench.log" 2>/dev/null |
        while IFS= read -r line; do
            line=${line%$'\r'}
            case $line in
                "GUEST-HOST: open10k-start "* | "GUEST-HOST: open10k-end "*)
                    read -r when door round <<<"${line#GUEST-HOST: open10k-}"
                    req_snapshot "$door" "$round" "$when" >>"$tmp/host-req.txt" || true
                    ;;
            esac
        done
}

# bench: one guest, four front doors on the same bytes.
bench() {
    local rc=0 pid vpid= wpid hostdir=$tmp/hostdir i extra=()
    rm -f "$VHOST_FAMFS_DEVICE"
    # 10,000 small files of 2 MiB allocation units each: a sparse device.
    "$BIN" mkfs --size 22G >/dev/null
    "$BIN" creat -s 256M -S 7 big
    "$BIN" mkdir small
    (cd /tmp && for i in $(seq 1 10000); do echo "small/f$i"; done) | xargs "$BIN" creat -s 4K -S 3
    gcc -O2 -Wall -Wextra -static -o "$tmp/famfs-tool" "$ROOT/tests/vm/guest/famfs-tool.c"
    mapfile -t kos < <(vm_build_module guest-driver "$tmp/mod")
    vm_build_initramfs "$tmp/bench.cpio.gz" "$TESTS/guest-bench.sh" "${kos[@]}" "$tmp/famfs-tool"
    rm -f "$tmp"/bench-*.sock
    : >"$tmp/host-req.txt"
    "$BIN" -v serve --control-socket "$tmp/bench.ctl" -s "$tmp/bench-mod.sock,tag=famfs" \
        -s "$tmp/bench-dax.sock,proto=virtio-fs,tag=dax,dax-window=512M" \
        -s "$tmp/bench-copy.sock,proto=virtio-fs,tag=copy,cache=auto" \
        >"$tmp/bench.daemon.log" 2>&1 &
    pid=$!
    vm_register_pid "$pid"
    for i in mod dax copy; do vm_wait_socket "$tmp/bench-$i.sock" 10; done
    if [ -n "${VIRTIOFSD:-}" ]; then
        # The same bytes as host files: the big file and 10,000 small ones.
        mkdir -p "$hostdir/small"
        python3 - "$VHOST_FAMFS_DEVICE" "$("$BIN" getmap big)" "$hostdir/big" <<'PY'
import re, sys
dev, fmap, out = sys.argv[1:]
left = 256 << 20
with open(dev, "rb") as f, open(out, "wb") as o:
    for off, ln in re.findall(r"^\s+([0-9a-f]+)\s+([0-9]+)$", fmap, re.M):
        f.seek(int(off, 16))
        n = min(int(ln), left)
        o.write(f.read(n))
        left -= n
PY
        vm_virtiofsd_small "$VIRTIOFSD" "$hostdir" "$tmp/bench-vfsd.sock" "$tmp/vfsd.log"
        vpid=$VM_VIRTIOFSD_PID
        extra=(-chardev socket,id=fs3,path="$tmp/bench-vfsd.sock"
            -device vhost-user-fs-pci,chardev=fs3,tag=vfsd)
    fi
    VM_MEM=3G vm_start bench "$tmp/bench.cpio.gz" "$tmp/bench.log" \
        -chardev socket,id=fs0,path="$tmp/bench-mod.sock" \
        -device vhost-user-test-device-pci,chardev=fs0,virtio-id=6,num_vqs=2,config_size=96 \
        -chardev socket,id=fs1,path="$tmp/bench-dax.sock" \
        -device vhost-user-test-device-pci,chardev=fs1,virtio-id=26,num_vqs=2,config_size=40 \
        -chardev socket,id=fs2,path="$tmp/bench-copy.sock" \
        -device vhost-user-fs-pci,chardev=fs2,tag=copy \
        "${extra[@]}"
    req_watch &
    wpid=$!
    vm_wait bench 3000 || rc=1
    wait "$wpid" || true
    tr -d '\r' <"$tmp/bench.log" | grep -a -E 'GUEST-BENCH|GUEST-CHECK' || true
    cat "$tmp/host-req.txt"
    kill "$pid" ${vpid:+"$vpid"} 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    grep -E 'DAX window' "$tmp/bench.daemon.log" || true
    { tr -d '\r' <"$tmp/bench.log"; cat "$tmp/host-req.txt"; } |
        python3 "$TESTS/bench_table.py" "$tmp/bench.daemon.log" || rc=1
    return $rc
}

scenario() {
    local s=$1 st rc=0
    echo "=== scenario $s"
    fresh_fs
    case $s in
        dax)
            guest dax "dax-window=256M" || rc=1
            host_sum dax || rc=1
            "$BIN" verify -S 9 shared || rc=1
            st=$(stats dax); echo "daemon: SETUPMAPPING/MiB/removed/refused: $st"
            read -r n mib _ refused <<<"$st"
            [ -n "${n:-}" ] && [ "$mib" -gt 0 ] && [ "$refused" = 0 ] || rc=1
            echo "SETUPMAPPING per GiB mapped: $((n * 1024 / mib))"
            ;;
        small)
            guest small "dax-window=64M" || rc=1
            host_sum small || rc=1
            st=$(stats small); echo "daemon: SETUPMAPPING/MiB/removed/refused: $st"
            read -r n mib removed refused <<<"$st"
            # 2 x 256 MiB read through a 64 MiB window: ranges were reclaimed.
            [ -n "${n:-}" ] && [ "$removed" -gt 0 ] && [ "$mib" -gt 256 ] && [ "$refused" = 0 ] || rc=1
            ;;
        share) share || rc=1 ;;
        ro)
            guest ro "dax-window=128M,role=ro" ro || rc=1
            "$BIN" verify -S 1 shared || rc=1
            ;;
        bench) bench || rc=1 ;;
        *) echo "unknown scenario $s" >&2; return 2 ;;
    esac
    echo "=== scenario $s: $([ $rc = 0 ] && echo PASS || echo FAIL)"
    return $rc
}

vm_run_scenarios run-dax-tests scenario "${VM_SCENARIOS[@]}"

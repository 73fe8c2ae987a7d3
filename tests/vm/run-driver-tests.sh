#!/bin/bash
# Boots Debian 6.12 guests with virtio_famfs.ko against a vhost-famfs daemon
# (QEMU 11.1 via tests/vm/lib.sh) and runs guest-<scenario>.sh in each.
#
#   tests/vm/run-driver-tests.sh [SCENARIO...]
#
# Scenarios (default: all):
#   basic   master: mount, ls, mmap (1 GET_FMAP, PMD faults), read, mkdir,
#           truncate -s creates files (one named with the byte 0xff),
#           famfs refusals; host checks the log
#   ro      role=ro: forced read-only mount, every write path refused
#   client  role=client: no creation, writes to existing files work
#   notify  host creates a file while mounted: negative dentry and the
#           cached listing are dropped on NAMESPACE_CHANGED
#   dead    the daemon is killed while mounted: requests fail with EIO
#           within request_timeout, cached mmaps keep working, umount and
#           rmmod are clean
#   hostile hostile_device.py instead of the daemon: malformed replies of
#           every kind fail with EIO and are logged; no oops, clean rmmod
#   hostileplus  hostile_device.py offering READDIRPLUS and inline maps
#           and lying in them: bad entries, attributes or inline maps fail
#           the listing or the LOOKUP with EIO, nothing bad is cached
#   suid    setuid/setgid files made on the host: hidden without -o
#           allow_suid, honoured with it; a write by a user drops them
#   poison  madvise(MADV_HWPOISON) on a mapped window page: SIGBUS to its
#           mappers, EIO to read(2)/write(2) there, the guest lives
#   sync    fsync()/msync() write back what shared mappings dirtied
#           (fs_dax:dax_writeback_one events), and only that
#   race    reads, writes and faults racing with the ftruncate() that
#           creates a file: no EIO, no SIGBUS once the size is visible
#   striped a 64 GiB file striped over 16 strips on a sparse device: one
#           GET_FMAP (16 strips), mmap reads at marks across strips and rows
#   remove  the device goes away while a file is mapped (SIGBUS on the next
#           touch) and another open: driver unbind, rebind, then QEMU
#           device_del (PCIe hot-unplug); slub_debug and init_on_free on
#   slow    hostile_device.py holding INIT: probe sends nothing, mount
#           times out, killed waits return at once, the late INIT reply
#           lets a later mount succeed, slow but moving queues stay alive
#   vmmconfig  the documented way, as written: `serve --socket-path` in a
#           directory that does not exist yet, QEMU started by
#           vmm-config/qemu/one-vm.sh (QEMU from the environment, TCG where
#           there is no KVM); the guest mounts and verifies files
#   tools   famfs-guest (guest-tools/): cp of files and trees, creat,
#           getmap (FIEMAP) against the host's getmap, flush/invalidate
#   plus    listings with attributes and inline maps (64 small files):
#           ls -l, stat, mmap send 0 requests per file; a second socket
#           with readdirplus=off,entry-fmap=off and the module reloaded
#           with readdirplus=0 entry_fmap=0 work as before (a LOOKUP and a
#           GET_FMAP per file); the daemon's counters agree
#   metabench  (only when named) 10,000 files of 4 KiB: list, stat,
#           mmap, warm; requests per file by opcode with and without
#           READDIRPLUS and inline maps and against virtiofsd, one boot;
#           see docs/benchmarks.md (VHOST_FAMFS_VIRTIOFSD=1 provides
#           virtiofsd, VIRTIOFSD=PATH picks another)
#   bench   (only when named) mmap read bandwidth of a 1 GiB file against
#           anonymous memory in the same guest; see docs/benchmarks.md
# Knobs: VM_KEEP=1 keeps logs; the tests/vm/lib.sh knobs (VHOST_FAMFS_ACCEL,
# VM_MEM, ...); RQ=N request queues (default 1); DAEMON_WRAPPER=CMD runs
# the daemon under CMD (scripts/strace-daemon.sh: docs/sandboxing.md).
set -euo pipefail
# metabench compares with virtiofsd: have provisioning fetch it.
for a in "$@"; do [ "$a" != metabench ] || export VHOST_FAMFS_VIRTIOFSD=1; done
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TESTS=$ROOT/tests/vm/driver
cd "$ROOT"
. tests/vm/lib.sh
vm_scenarios "basic ro client notify dead hostile hostileplus suid poison sync race striped remove slow vmmconfig tools plus" \
    "metabench bench" "$@" || exit 2
vm_daemon_setup virtio-famfs-test
RQ=${RQ:-1}

gcc -O2 -Wall -static -o "$tmp/famfs_mmap_test" "$ROOT/tests/vm/guest/famfs_mmap_test.c"
gcc -O2 -Wall -Wextra -static -o "$tmp/famfs-tool" "$ROOT/tests/vm/guest/famfs-tool.c"
gcc -O2 -Wall -Wextra -static -pthread -o "$tmp/famfs_datapath_test" \
    "$ROOT/tests/vm/guest/famfs_datapath_test.c"
gcc -O2 -Wall -Wextra -static -o "$tmp/famfs_hold" "$ROOT/tests/vm/guest/famfs_hold.c"
mapfile -t kos < <(vm_build_module guest-driver "$tmp/mod")
make -s -C "$ROOT/guest-tools" O="$tmp"

# qmp SOCKET JSON: send one QMP command; fails if QEMU answers an error.
qmp() {
    python3 - "$1" "$2" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
json.loads(f.readline())
for cmd in ({"execute": "qmp_capabilities"}, json.loads(sys.argv[2])):
    f.write(json.dumps(cmd) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "event" not in r:
            break
    print("qmp:", json.dumps(r))
    if "error" in r:
        sys.exit(1)
PY
}

# run_guest NAME ROLE: boot a guest on a fresh daemon socket with ROLE.
daemon_pid=
run_guest() {
    local name=$1 role=$2 rc=0 nvqs=$((RQ + 1)) gate= append=${VM_APPEND:-}
    local -a dev extra=() confine=() more=() moredev=()
    [ "$role" != hostile ] || nvqs=2
    local plus=0
    [ "$name" != hostileplus ] || plus=1
    dev=(-device "vhost-user-test-device-pci,chardev=fs0,virtio-id=6,num_vqs=$nvqs,config_size=96")
    # poison also injects through /sys/kernel/debug/hwpoison/corrupt-pfn.
    [ "$name" != poison ] || extra+=("$(vm_distro_kmod hwpoison-inject)")
    vm_build_initramfs "$tmp/$name.cpio.gz" "$TESTS/guest-$name.sh" \
        "${kos[@]}" "${extra[@]}" "$tmp/famfs_mmap_test" "$tmp/famfs-tool" \
        "$tmp/famfs_datapath_test" "$tmp/famfs_hold" "$tmp/famfs-guest" \
        "$ROOT/tests/vm/guest/removal.sh:/lib/removal.sh"
    rm -f "$tmp/$name.sock"
    [ "$name" != slow ] || gate=$tmp/slow.gate
    if [ "$role" = hostile ]; then
        HOSTILE_INIT_GATE=$gate HOSTILE_PLUS=$plus \
            python3 "$TESTS/hostile_device.py" "$tmp/$name.sock" \
            >"$tmp/$name.daemon.log" 2>&1 &
    else
        # The seccomp filter is on (the default, --seccomp=kill); basic's
        # daemon also drops root once its device and sockets are open.
        [ "$name" != basic ] || confine=(--user nobody)
        if [ "$name" = plus ]; then
            # The same device again, offering neither optional feature.
            more=(-s "$tmp/plus-off.sock,role=client,tag=famoff,readdirplus=off,entry-fmap=off")
            moredev=(-chardev socket,id=fs1,path="$tmp/plus-off.sock"
                -device "vhost-user-test-device-pci,chardev=fs1,virtio-id=6,num_vqs=$nvqs,config_size=96")
        fi
        ${DAEMON_WRAPPER:-} "$BIN" -v serve --request-queues "$RQ" -s "$tmp/$name.sock,role=$role" \
            "${more[@]}" --control-socket "$tmp/$name.ctl" "${confine[@]}" \
            >"$tmp/$name.daemon.log" 2>&1 &
    fi
    daemon_pid=$!
    vm_register_pid "$daemon_pid"
    vm_wait_socket "$tmp/$name.sock" 10
    : >"$tmp/$name.log"
    case $name in
        notify) vm_on_marker "$tmp/$name.log" "GUEST-HOST: create-late" \
                    "$BIN" creat -s 2M -S 5 late ;;
        dead)   vm_on_marker "$tmp/$name.log" "GUEST-HOST: kill-daemon" \
                    kill -KILL "$daemon_pid" ;;
        slow)   vm_on_marker "$tmp/$name.log" "GUEST-HOST: open-init-gate" \
                    touch "$gate" ;;
        remove)
            # Hot-unplug needs the device behind a PCIe root port.
            dev=(-device pcie-root-port,id=rp1,chassis=1
                 -qmp "unix:$tmp/$name.qmp,server=on,wait=off"
                 -device "${dev[1]},bus=rp1,id=famfs0")
            # Use-after-free shows as poisoned slabs and zeroed pages.
            append+=" slub_debug=FZPU init_on_free=1"
            vm_on_marker "$tmp/$name.log" "GUEST-HOST: device-del" \
                qmp "$tmp/$name.qmp" '{"execute": "device_del", "arguments": {"id": "famfs0"}}' ;;
    esac
    VM_APPEND=$append vm_start "$name" "$tmp/$name.cpio.gz" "$tmp/$name.log" \
        -chardev socket,id=fs0,path="$tmp/$name.sock" "${dev[@]}" "${moredev[@]}"
    vm_wait "$name" 600 || rc=1
    # The daemon's own count of what the guest asked (not after `dead`).
    if [ "$role" != hostile ] && [ "$name" != dead ]; then
        "$BIN" status --control-socket "$tmp/$name.ctl" >"$tmp/$name.status" || rc=1
        sed 's/^/[status] /' "$tmp/$name.status"
        grep -qE '^  requests init=[1-9]' "$tmp/$name.status" || {
            echo "[status] no INIT counted"; rc=1; }
    fi
    if [ ${#confine[@]} -gt 0 ] && ! grep -q 'running as uid 65534 ' "$tmp/$name.daemon.log"; then
        echo "[status] the daemon did not drop root"; rc=1
    fi
    tr -d '\r' <"$tmp/$name.log" | grep -a -E 'GUEST-CHECK|GUEST-BENCH|^bench:|virtio_famfs|famfs:|^--- |^(req|fault|fmaps|notif)[a-z_]* |^(ok|FAILED|poison|create-race|write-as): |^(flush|invalidate) /|^/tmp/.* -> |Memory failure' || true
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
    return $rc
}

# run_one_vm_sh: the user guide's daemon command and vmm-config/qemu/one-vm.sh
# as written, booting the test kernel instead of a disk.
run_one_vm_sh() {
    local name=vmmconfig rc=0 sock=$tmp/run/vhost-famfs/vm1.sock pid
    vm_build_initramfs "$tmp/$name.cpio.gz" "$TESTS/guest-$name.sh" \
        "${kos[@]}" "$tmp/famfs_mmap_test"
    rm -rf "$tmp/run"
    "$BIN" serve --socket-path "$sock" >"$tmp/$name.daemon.log" 2>&1 &
    daemon_pid=$!
    vm_register_pid "$daemon_pid"
    vm_wait_socket "$sock" 10
    QEMU=$QEMU MEM=${VM_MEM:-1G} SMP=${VM_SMP:-2} "$ROOT/vmm-config/qemu/one-vm.sh" "$sock" none \
        -kernel "$KERNEL" -initrd "$tmp/$name.cpio.gz" -no-reboot \
        -append "console=ttyS0 panic=-1 oops=panic cryptomgr.notests mitigations=off" \
        -run-with exit-with-parent=on </dev/null >"$tmp/$name.log" 2>&1 &
    pid=$!
    # Tracked as vm_start tracks its VMs, so that vm_wait can check it.
    VM_PID[$name]=$pid
    VM_LOG[$name]=$tmp/$name.log
    vm_register_pid "$pid"
    vm_wait "$name" 600 || rc=1
    tr -d '\r' <"$tmp/$name.log" | grep -a -E 'GUEST-CHECK|virtio_famfs|famfs:' || true
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
    [ ! -e "$sock" ] || { echo "daemon left $sock behind"; rc=1; }
    return $rc
}

fresh_fs() {
    rm -f "$VHOST_FAMFS_DEVICE"
    "$BIN" mkfs --size 1G >/dev/null
    "$BIN" creat -s 64M -S 7 f
    "$BIN" mkdir sub
    "$BIN" creat -s 4M -S 3 sub/g
    # 4 strips of 2 MiB chunks (128 chunks): one interleaved GET_FMAP.
    "$BIN" creat -s 256M -N 4 -C 2M -S 21 striped
    # A host file copied in with cp: the guest compares it with the copy of
    # the same program that its initramfs carries.
    "$BIN" cp "$tmp/famfs-tool" sub/famfs-tool.copy
}

# check_tools: what the tools guest wrote reads back on the host, and its
# extent maps (GUEST-MAP lines) are the host's.
check_tools() {
    local p want got k rc=0
    echo "--- host view"
    "$BIN" ls -l copied && "$BIN" ls -l tree && "$BIN" ls -l tree/d || rc=1
    "$BIN" verify -S 23 copied/src || rc=1
    "$BIN" verify -S 31 tree/a || rc=1
    "$BIN" verify -S 37 tree/d/b || rc=1
    "$BIN" verify -S 29 made || rc=1
    "$BIN" stat made | grep -E '^ *mode: 0600 ' || rc=1
    for p in f made copied/src; do
        want=$("$BIN" getmap "$p" | awk '/^\t\t/ {print $1, $2}')
        got=$(tr -d '\r' <"$tmp/tools.log" | awk -v p="$p" '$1 == "GUEST-MAP" && $2 == p {print $3, $4}')
        if [ -n "$want" ] && [ "$want" = "$got" ]; then
            echo "getmap $p: guest = host ($(wc -l <<<"$want") extent(s))"
        else
            echo "getmap $p: guest [$got] host [$want]"; rc=1
        fi
    done
    # striped: chunk k of 2 MiB lies in strip k % 4, (k / 4) chunks in.
    local -a strip
    mapfile -t strip < <("$BIN" getmap striped | awk '/^\t\t/ {print $1}')
    want=$(for ((k = 0; k < 128; k++)); do
        printf '%x 2097152\n' $((0x${strip[k % 4]} + k / 4 * 2097152)); done)
    got=$(tr -d '\r' <"$tmp/tools.log" | awk '$1 == "GUEST-MAP" && $2 == "striped" {print $3, $4}')
    if [ "$want" = "$got" ]; then echo "getmap striped: guest = host (128 chunks of 4 strips)"
    else echo "getmap striped: guest and host differ"; diff <(echo "$want") <(echo "$got") | head; rc=1; fi
    return $rc
}

# meta_snapshot DOOR ROUND STEP WHEN: one HOST-REQ line, the request counts
# by opcode of DOOR's server now: the daemon's status report for its two
# sockets, virtiofsd's debug log (one "Received request" line per request;
# FORGET, BATCH_FORGET and INTERRUPT left out, as the daemon counts none).
meta_snapshot() {
    local counts sock
    if [ "$1" = vfsd ]; then
        counts=$(sed -n 's/.*Received request: opcode=\([A-Za-z]*\).*/\1/p' "$tmp/vfsd.log" |
            grep -v -x -E 'Forget|BatchForget|Interrupt' | sort | uniq -c |
            awk '{ printf "%s=%s ", tolower($2), $1 }')
    else
        sock=$tmp/meta-$1.sock
        counts=$("$BIN" status --control-socket "$tmp/meta.ctl" |
            awk -v s="socket $sock" '$0 == s { f = 1 }
                f && $1 == "requests" { $1 = ""; sub(/ other=[0-9]*/, ""); print; exit }')
    fi
    echo "HOST-REQ $1 $2 $3 $4 requests ${counts# }"
}

# metabench: 10,000 files of 4 KiB in one directory, one boot, three doors
# (guest-metabench.sh); docs/benchmarks.md.
metabench() {
    local rc=0 pid vpid= hostdir=$tmp/hostdir line when door round step i
    local vfsd=${VIRTIOFSD:-$VHOST_FAMFS_CACHE/virtiofsd/bin/virtiofsd}
    local -a extra=()
    rm -f "$VHOST_FAMFS_DEVICE"
    # 10,000 files of one 2 MiB allocation unit each: a sparse device.
    "$BIN" mkfs --size 22G >/dev/null
    "$BIN" mkdir small
    (cd /tmp && for i in $(seq 1 10000); do echo "small/f$i"; done) | xargs "$BIN" creat -s 4K -S 3
    vm_build_initramfs "$tmp/meta.cpio.gz" "$TESTS/guest-metabench.sh" "${kos[@]}" "$tmp/famfs-tool"
    rm -f "$tmp"/meta-*.sock
    "$BIN" serve --control-socket "$tmp/meta.ctl" -s "$tmp/meta-on.sock,tag=famfs" \
        -s "$tmp/meta-off.sock,role=client,tag=famoff,readdirplus=off,entry-fmap=off" \
        >"$tmp/meta.daemon.log" 2>&1 &
    pid=$!
    vm_register_pid "$pid"
    for i in on off; do vm_wait_socket "$tmp/meta-$i.sock" 10; done
    if [ -x "$vfsd" ]; then
        vm_virtiofsd_small "$vfsd" "$hostdir" "$tmp/meta-vfsd.sock" "$tmp/vfsd.log"
        vpid=$VM_VIRTIOFSD_PID
        extra=(-chardev socket,id=fs2,path="$tmp/meta-vfsd.sock"
            -device vhost-user-fs-pci,chardev=fs2,tag=vfsd)
    else
        echo "metabench: no virtiofsd ($vfsd); VHOST_FAMFS_VIRTIOFSD=1 provides it"
    fi
    : >"$tmp/meta.log"
    : >"$tmp/host-req.txt"
    VM_MEM=3G vm_start meta "$tmp/meta.cpio.gz" "$tmp/meta.log" \
        -chardev socket,id=fs0,path="$tmp/meta-on.sock" \
        -device vhost-user-test-device-pci,chardev=fs0,virtio-id=6,num_vqs=2,config_size=96 \
        -chardev socket,id=fs1,path="$tmp/meta-off.sock" \
        -device vhost-user-test-device-pci,chardev=fs1,virtio-id=6,num_vqs=2,config_size=96 \
        "${extra[@]}"
    # Answer each marker with a snapshot; tail ends with QEMU.
    tail --pid="${VM_PID[meta]}" -n +1 -F "$tmp/meta.log" 2>/dev/null |
        while IFS= read -r line; do
            line=${line%$'\r'}
            case $line in
                "GUEST-HOST: meta "*)
                    read -r door round step when <<<"${line#GUEST-HOST: meta }"
                    meta_snapshot "$door" "$round" "$step" "$when" >>"$tmp/host-req.txt" || true ;;
            esac
        done &
    local wpid=$!
    vm_wait meta 7200 || rc=1
    wait "$wpid" || true
    kill "$pid" ${vpid:+"$vpid"} 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    tr -d '\r' <"$tmp/meta.log" | grep -a -E 'GUEST-META|GUEST-CHECK' || true
    { tr -d '\r' <"$tmp/meta.log"; cat "$tmp/host-req.txt"; } |
        python3 "$TESTS/meta_table.py" || rc=1
    return $rc
}

# plus_requests SOCKET OP: the daemon's count of OP requests on SOCKET, from
# the status run_guest saved.
plus_requests() {
    awk -v s="socket $1" -v op="$2" '$0 == s { f = 1 }
        f && $1 == "requests" { for (i = 2; i <= NF; i++) {
            split($i, kv, "="); if (kv[1] == op) { print kv[2]; exit } } }' \
        "$tmp/plus.status"
}

scenario() {
    local s=$1 rc=0
    echo "=== scenario $s"
    fresh_fs
    case $s in
        basic)
            run_guest basic master || rc=1
            echo "--- host view"
            "$BIN" ls && "$BIN" ls newdir || rc=1
            "$BIN" verify -S 9 newfile || rc=1
            "$BIN" verify -S 11 newdir/w || rc=1
            # The name with the byte 0xff the guest made: listed escaped,
            # its data intact, and never raw in the daemon's log.
            grep -qx 'b\\377y' <<<"$("$BIN" ls)" || { echo "ls: no b\\377y"; rc=1; }
            "$BIN" verify -S 23 $'b\xffy' || rc=1
            grep -q 'guest created b\\377y ' "$tmp/basic.daemon.log" \
                || { echo "daemon log: no escaped b\\377y"; rc=1; }
            if LC_ALL=C grep -q $'\xff' "$tmp/basic.daemon.log"; then
                echo "daemon log: a raw 0xff byte"; rc=1
            fi ;;
        ro)
            run_guest ro ro || rc=1
            "$BIN" verify -S 7 f || rc=1 ;;
        client)
            run_guest client client || rc=1
            "$BIN" verify -S 13 f || rc=1 ;;
        notify)
            run_guest notify master || rc=1 ;;
        dead)
            run_guest dead master || rc=1 ;;
        hostile)
            run_guest hostile hostile || rc=1 ;;
        hostileplus)
            run_guest hostileplus hostile || rc=1 ;;
        suid)
            "$BIN" creat -s 2M -m 6755 -u 0 -g 0 -S 5 suid
            "$BIN" creat -s 2M -m 6777 -u 0 -g 0 -S 5 suidw
            "$BIN" cp -m 6755 -u 0 -g 0 "$tmp/famfs_datapath_test" suidprog
            run_guest suid master || rc=1
            # The bits were dropped in that guest only: the device keeps them.
            "$BIN" stat suidw | grep -E '^ *mode: 6777 ' || rc=1 ;;
        poison)
            run_guest poison master || rc=1 ;;
        sync)
            run_guest sync master || rc=1 ;;
        race)
            run_guest race master || rc=1 ;;
        striped)
            # 64 GiB striped over 16 strips on a sparse 65 GiB device: the
            # window is a 128 GiB BAR, its struct pages take 1 GiB of RAM.
            rm -f "$VHOST_FAMFS_DEVICE"
            "$BIN" mkfs --size 65G >/dev/null
            "$BIN" creat -s 64G -N 16 -C 2M big
            "$BIN" getmap big | python3 "$TESTS/striped_marks.py" "$VHOST_FAMFS_DEVICE" \
                || rc=1
            VM_MEM=3G run_guest striped master || rc=1 ;;
        remove)
            run_guest remove master || rc=1
            # Written back unchanged through the mapping: nothing lost.
            "$BIN" verify -S 7 f || rc=1 ;;
        slow)
            run_guest slow hostile || rc=1 ;;
        vmmconfig)
            run_one_vm_sh || rc=1 ;;
        plus)
            "$BIN" mkdir many
            for i in $(seq 1 64); do "$BIN" creat -s 4K -S $((41 + i)) "many/f$i"; done
            run_guest plus master || rc=1
            # What each socket served, by the daemon's own count.
            plus_requests "$tmp/plus.sock" readdirplus | grep -qE '^[1-9]' || {
                echo "[status] famfs: no READDIRPLUS served"; rc=1; }
            [ "$(plus_requests "$tmp/plus-off.sock" readdirplus)" = 0 ] || {
                echo "[status] famoff: READDIRPLUS served"; rc=1; }
            [ "$(plus_requests "$tmp/plus-off.sock" lookup)" -ge 64 ] &&
                [ "$(plus_requests "$tmp/plus-off.sock" get_fmap)" -ge 64 ] || {
                echo "[status] famoff: fewer than 64 LOOKUP and GET_FMAP"; rc=1; } ;;
        tools)
            run_guest tools master || rc=1
            check_tools || rc=1 ;;
        metabench)
            # Not part of the default list: a benchmark, not a test.
            metabench || rc=1 ;;
        bench)
            # Not part of the default list: a benchmark, not a test.
            rm -f "$VHOST_FAMFS_DEVICE"
            "$BIN" mkfs --size 2G >/dev/null
            "$BIN" creat -s 1G -S 17 big
            VM_MEM=3G run_guest bench master || rc=1 ;;
        *) echo "unknown scenario $s"; return 1 ;;
    esac
    echo "=== scenario $s: $([ $rc = 0 ] && echo PASS || echo FAIL)"
    return $rc
}

vm_run_scenarios run-driver-tests scenario "${VM_SCENARIOS[@]}"

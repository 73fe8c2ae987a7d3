#!/bin/bash
# Multi-VM sharing tests: two Debian 6.12 guests (QEMU 11.1 via
# tests/vm/lib.sh) with virtio_famfs.ko share ONE famfs device (a 1 GiB
# file on /dev/shm) through vhost-famfs daemons, at the same time.
#
#   tests/vm/run-sharing-tests.sh [SCENARIO...]
#
# Scenarios (default: all but reconnect):
#   one-daemon    one daemon, two sockets (a master, b client): a creates
#                 x/data and fills it through mmap; b, mounted before, sees
#                 it appear, checks it by mmap and read(2), then sees a's
#                 later write through the mapping it already had
#   two-daemons   the same with one daemon per VM on the same device
#   ring          producer in a, consumer in b, through one mapped file:
#                 RING_COUNT messages, none lost, duplicated or corrupted
#   read-only     b role=ro: every write path fails; then root in b writes
#                 through the window's BAR (/dev/mem, iomem=relaxed) and the
#                 host reports whether that reached its memory
#   metadata-safe both VMs read and write window offsets 0..meta_size (the
#                 superblock and log, never mapped) through the BAR: nothing
#                 readable, host metadata unchanged, fsck clean
#   host-creates  the host CLI creates files (creat, cp) while both VMs are
#                 mounted; both see and read them without remounting
#   concurrent-creators
#                 host CLI and VM a create CREATORS files each at the same
#                 time; fsck clean, both VMs list all of them
#   pending-name  a (master) holds x open, created but never sized; b
#                 (master too) creates x on the device; a then sees b's x
#                 (d_revalidate), and sizing its own fails with EEXIST
#   subtree       a's socket exports /a, b's /b (subtree=): each VM sees only
#                 its own tree (find, ls -R, guessed paths fail), statfs
#                 counts it, and its creations land there on the host
#   faults        kill -9 b's QEMU while a reads and writes shared files (a
#                 completes), then kill -9 the daemon while a creates files
#                 (EIO within request_timeout, mapped files keep working,
#                 fsck clean, every listed file intact, every file a
#                 reported created is there, the host appends after it)
#   isolation     tenants a and b on two sockets with isolate=on and
#                 subtree=/a, subtree=/b (a master, b ro), trees seeded
#                 with distinct patterns, each holding its own ctl (the
#                 host writes both): each VM's find shows only its tree and
#                 no guessed path of the other resolves; root in each VM
#                 scans the whole window BAR (/dev/mem, iomem=relaxed):
#                 data only in its own opened files and ctl, gone after
#                 close + drop_caches (FORGET); VM a then churns
#                 CHURN_ROUNDS x 100 files: live mappings back to 0, daemon
#                 and QEMU memory bounded; VM b holds 300 files open:
#                 ENOSPC past 256
#   isolation-clients  the same, both sockets role=client, without the churn
#   isolation-swap     the same, a ro and b master, without the churn
#   isolation-bench  (only when named) one VM, two devices on the same file (isolate=on and
#                 off): median first open of 100 files through each,
#                 BENCH_ROUNDS rounds (docs/benchmarks.md)
#   reconnect     (only when named) what QEMU 11.1.2 does with
#                 -chardev socket,reconnect-ms=1000; reports, never fails
#
# Every VM boots the same initramfs (module, famfs-tool, famfs_mmap_test,
# tests/vm/sharing/*.sh); the kernel command line picks the guest script
# (famfs_test.scenario=, famfs_test.vm=). The guests coordinate through a
# control file ctl that every VM maps (the host writes it through the device
# file; with subtree exports each tenant has its own, the host writes all) and through "GUEST-HOST: <marker>" console lines the host waits for;
# nothing waits for a fixed time. See docs/sharing.md.
#
# Knobs: RING_COUNT (1000000), CREATORS (200), CHURN_ROUNDS (100), VM_MEM (512M), VM_SMP (1),
# VM_KEEP=1 keeps logs, DAEMON_WRAPPER=CMD runs each daemon under CMD
# (docs/sandboxing.md), and the other tests/vm/lib.sh knobs.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SHARING=$ROOT/tests/vm/sharing
cd "$ROOT"
. tests/vm/lib.sh

vm_scenarios "one-daemon two-daemons ring read-only metadata-safe isolation isolation-clients isolation-swap host-creates concurrent-creators pending-name subtree faults" \
    reconnect "$@" || exit 2
set -- "${VM_SCENARIOS[@]}"

T_START=$(date +%s%N)
vm_daemon_setup vhost-famfs-sharing
DEV=$VHOST_FAMFS_DEVICE
export VM_MEM=${VM_MEM:-512M} VM_SMP=${VM_SMP:-1}
RING_COUNT=${RING_COUNT:-1000000}
CREATORS=${CREATORS:-200}
CHURN_ROUNDS=${CHURN_ROUNDS:-100}
BENCH_ROUNDS=${BENCH_ROUNDS:-5}

gcc -static -O2 -Wall -Wextra -Werror -o "$tmp/famfs-tool" tests/vm/guest/famfs-tool.c
gcc -static -O2 -Wall -o "$tmp/famfs_mmap_test" tests/vm/guest/famfs_mmap_test.c
mapfile -t kos < <(vm_build_module guest-driver "$tmp/mod")
items=()
for f in "$SHARING"/*.sh; do
    [ "$(basename "$f")" = guest-main.sh ] || items+=("$f:/sharing/$(basename "$f")")
done
vm_build_initramfs "$tmp/ir.cpio.gz" "$SHARING/guest-main.sh" "${kos[@]}" \
    "$tmp/famfs-tool" "$tmp/famfs_mmap_test" "${items[@]}" \
    "$ROOT/tests/vm/guest/subtree.sh:/lib/subtree.sh"
echo "setup (provision, build, initramfs): $((($(date +%s%N) - T_START) / 1000000)) ms"

# ---------------------------------------------------------------- helpers
S=        # the scenario running
rc=0      # its result
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
say() { echo "$S: $*"; }
bad() { echo "$S: FAIL: $*"; rc=1; }

# fresh_fs: a new 1 GiB device with the control file ctl (2 MiB, zeros).
fresh_fs() {
    rm -f "$DEV"
    "$BIN" mkfs --size 1G >/dev/null
    "$BIN" creat -s 2M ctl
    CTL=$(file_off ctl)
    CTLS=$CTL
    META=$("$BIN" fsck | awk '/metadata \(sb \+ log\)/ {printf "%d", $(NF - 1) * 1048576}')
}

# file_off PATH: device offset of PATH's first extent (the window offset).
file_off() { echo $((16#$("$BIN" getmap "$1" | awk '/^\t\t/ {print $1; exit}'))); }
# dev_read OFFSET LEN: bytes of the device file.
dev_read() { dd if="$DEV" iflag=skip_bytes,count_bytes skip="$1" count="$2" status=none; }
# ctl_set SLOT TEXT: what a guest's ctl_set does, from the host (one write
# per control file: ctl, or each tenant's own with subtree exports).
ctl_set() {
    local c
    for c in $CTLS; do
        printf '%s' "$2" | dd of="$DEV" bs=64 seek=$((c / 64 + $1)) conv=notrunc status=none
    done
}

# start_daemon ID SOCK[,OPTS]...: one daemon serving these sockets.
declare -A DPID=()
start_daemon() {
    local id=$1 s args=()
    shift
    for s in "$@"; do rm -f "$tmp/${s%%,*}"; args+=(-s "$tmp/$s"); done
    # Seccomp filter on (the default); DAEMON_WRAPPER as in run-driver-tests.sh.
    ${DAEMON_WRAPPER:-} "$BIN" -v serve --control-socket "$tmp/$S.daemon-$id.ctl" "${args[@]}" >"$tmp/$S.daemon-$id.log" 2>&1 &
    DPID[$id]=$!
    vm_register_pid "$!"
    for s in "$@"; do vm_wait_socket "$tmp/${s%%,*}" 10 || { bad "daemon $id: no socket"; return 1; }; done
}
stop_daemons() {
    local id pid
    for id in "${!DPID[@]}"; do
        pid=${DPID[$id]}
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        vm_unregister_pid "$pid"
    done
    DPID=()
}

# boot NAME SOCK [KERNEL ARGS...]: start VM NAME (a or b) on socket SOCK.
boot() {
    local name=$1 sock=$2
    shift 2
    VM_APPEND="famfs_test.scenario=$GUEST famfs_test.vm=$name $*" \
        vm_start "$name" "$tmp/ir.cpio.gz" "$tmp/$S.$name.log" \
        -chardev socket,id=fs0,path="$tmp/$sock" \
        -device vhost-user-test-device-pci,chardev=fs0,virtio-id=6,num_vqs=2,config_size=96
}

# wait_marker NAME MARKER [SECS]: until VM NAME prints "GUEST-HOST: MARKER".
wait_marker() {
    local why
    why=$(vm_wait_marker "$1" "$tmp/$S.$1.log" "$2" "${3:-240}") || { bad "$why"; return 1; }
}

# kill_vm NAME: kill -9 its QEMU and reap it.
kill_vm() {
    local pid=${VM_PID[$1]}
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    vm_unregister_pid "$pid"
    unset "VM_PID[$1]"
}

# abort_vms: a host step failed; stop every VM now (vm_wait then fails).
abort_vms() {
    local n
    for n in "${!VM_PID[@]}"; do kill -KILL "${VM_PID[$n]}" 2>/dev/null || true; done
}

show() { # NAME: the interesting lines of a guest's log
    tr -d '\r' <"$tmp/$S.$1.log" | grep -a -E 'GUEST-CHECK|GUEST-FORCED|^(verify|watch|consume|produce|fill|bar-|wait-at)' |
        sed "s/^/  [$1] /" || true
}

finish_vms() { # NAME...: wait for each VM to pass
    local n
    for n in "$@"; do
        vm_wait "$n" 300 || bad "VM $n failed"
        show "$n"
    done
}

fsck_clean() {
    local out st=0
    out=$("$BIN" fsck 2>&1) || st=$?
    if [ $st = 0 ]; then say "fsck: clean ($(awk '/log entries/ {print $3}' <<<"$out") log entries)"
    else bad "fsck exit $st:"; sed 's/^/    /' <<<"$out"; fi
}

# ---------------------------------------------------------------- scenarios
sc_exchange() { # one-daemon | two-daemons
    GUEST=exchange
    fresh_fs
    if [ "$S" = one-daemon ]; then
        start_daemon d "$S-a.sock,role=master" "$S-b.sock,role=client" || return
    else
        start_daemon a "$S-a.sock,role=master" || return
        start_daemon b "$S-b.sock,role=client" || return
    fi
    boot a "$S-a.sock"
    boot b "$S-b.sock"
    finish_vms a b
    [ $rc = 0 ] || return
    local off
    off=$(file_off x/data)
    [ "$(dev_read $((off + 4096)) 13)" = MARKER-FROM-A ] || bad "device: no MARKER-FROM-A at x/data+4096"
    [ "$(dev_read $((off + 8192)) 8)" = B-MAPPED ] || bad "device: no B-MAPPED at x/data+8192"
    say "host: x/data at device offset $(printf %#x "$off") holds both VMs' markers"
    fsck_clean
}

sc_ring() {
    GUEST=ring
    fresh_fs
    "$BIN" creat -s 2M ring
    start_daemon d "$S-a.sock,role=master" "$S-b.sock,role=client" || return
    boot a "$S-a.sock" famfs_test.count="$RING_COUNT"
    boot b "$S-b.sock" famfs_test.count="$RING_COUNT"
    finish_vms a b
    local off head tail
    off=$(file_off ring)
    head=$(od -An -tu8 -j "$off" -N 8 "$DEV" | tr -d ' ')
    tail=$(od -An -tu8 -j $((off + 64)) -N 8 "$DEV" | tr -d ' ')
    [ "$head" = "$RING_COUNT" ] && [ "$tail" = "$RING_COUNT" ] || bad "ring head $head tail $tail, not $RING_COUNT"
    say "host: ring head = tail = $head"
}

FORCED=
sc_read_only() {
    GUEST=read-only
    fresh_fs
    "$BIN" creat -s 4M -S 7 f
    local off forced
    off=$(file_off f)
    start_daemon d "$S-a.sock,role=master" "$S-b.sock,role=ro" || return
    boot a "$S-a.sock" famfs_test.off="$off"
    boot b "$S-b.sock" famfs_test.off="$off" iomem=relaxed
    if wait_marker b b-mounted; then
        ctl_set 0 go
        if wait_marker b forced-done; then
            forced=$(dev_read $((off + 4096)) 15)
            ctl_set 2 forced
        fi
    fi
    [ $rc = 0 ] || abort_vms
    finish_vms a b
    [ $rc = 0 ] || return
    grep -a 'window mapped' "$tmp/$S.daemon-d.log" | sed 's/^.*] /  [daemon] /'
    if [ "$forced" = RO-FORCED-WRITE ]; then
        FORCED="REACHED host memory (QEMU 11.1.2 maps a role=ro window read-write)"
    else
        FORCED="did not reach host memory (device holds '$(tr -cd '[:print:]' <<<"$forced")')"
    fi
    say "forced write by role=ro VM b through the BAR: $FORCED"
    "$BIN" verify -S 77 fromA >/dev/null || bad "fromA"
    fsck_clean
}

sc_metadata_safe() {
    GUEST=metadata-safe
    fresh_fs
    dev_read 0 "$META" >"$tmp/meta.before"
    start_daemon d "$S-a.sock,role=master" "$S-b.sock,role=client" || return
    boot a "$S-a.sock" famfs_test.meta="$META" iomem=relaxed
    boot b "$S-b.sock" famfs_test.meta="$META" iomem=relaxed
    if wait_marker a attacked-a && wait_marker b attacked-b; then
        if cmp -s <(dev_read 0 "$META") "$tmp/meta.before"; then
            say "host: superblock and log ($((META >> 20)) MiB) unchanged after both VMs wrote the BAR there"
        else
            bad "host metadata changed: $(cmp <(dev_read 0 "$META") "$tmp/meta.before" 2>&1)"
        fi
        fsck_clean
        ctl_set 0 checked
    fi
    [ $rc = 0 ] || abort_vms
    finish_vms a b
    [ $rc = 0 ] || return
    "$BIN" verify -S 99 after >/dev/null || bad "verify after"
    fsck_clean
}

# ranges PATH: the window ranges of PATH's extents, "+OFF:LEN,..." (bar-scan).
ranges() {
    "$BIN" getmap "$1" | awk -F'\t' '/^\t\t/ {printf "%s+0x%s:%s", n++ ? "," : "", $3, $4}'
}
# status_of ID SOCK KEY: KEY of socket SOCK in daemon ID's status report.
status_of() {
    "$BIN" status --control-socket "$tmp/$S.daemon-$1.ctl" |
        awk -v s="socket $tmp/$2" -v k="$3" '$0 == s {on = 1; next} /^socket / {on = 0} on && $1 == k {$1 = ""; print substr($0, 2)}'
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# sc_isolation ROLE_A ROLE_B [churn]: tenants a and b, each VM's socket
# exporting its own tree (subtree=/a, subtree=/b) with isolate=on. Each
# tree holds the tenant's control file (the host writes both), f1 and f2
# seeded with the tenant's patterns, only-a or only-b, and churn/ (a: 100
# files, b: 300, more than an isolated window maps at once). With
# "churn", VM a also opens and forgets its 100 files CHURN_ROUNDS times
# while the host counts the live mappings and the memory of the daemon
# and QEMU (the costly part: one scenario only).
sc_isolation() {
    GUEST=isolation
    fresh_fs
    local t i args churn=${3:-} rounds=0
    [ -z "$churn" ] || rounds=$CHURN_ROUNDS
    for t in a b; do
        "$BIN" mkdir $t
        "$BIN" mkdir $t/churn
        "$BIN" creat -s 2M $t/ctl
        "$BIN" creat -s 64K -S 9 $t/only-$t
    done
    CTLS="$(file_off a/ctl) $(file_off b/ctl)"
    "$BIN" creat -s 4M -S 11 a/f1
    "$BIN" creat -s 2M -S 12 a/f2
    "$BIN" creat -s 4M -S 21 b/f1
    "$BIN" creat -s 2M -S 22 b/f2
    for i in $(seq 1 100); do "$BIN" creat -s 4096 a/churn/$i; done
    # More files than an isolated window maps at once (256).
    for i in $(seq 1 300); do "$BIN" creat -s 4096 b/churn/$i; done
    start_daemon d "$S-a.sock,role=$1,isolate=on,subtree=/a" "$S-b.sock,role=$2,isolate=on,subtree=/b" || return
    for t in a b; do
        case $t in a) args="famfs_test.s1=11 famfs_test.s2=12 famfs_test.files=100 famfs_test.rounds=$rounds" ;;
                   b) args="famfs_test.s1=21 famfs_test.s2=22 famfs_test.files=300 famfs_test.hold=1" ;; esac
        boot $t "$S-$t.sock" iomem=relaxed famfs_test.tenant=$t $args \
            famfs_test.r1="$(ranges $t/f1)" famfs_test.r2="$(ranges $t/f2)" \
            famfs_test.f1="$(file_off $t/f1)" famfs_test.ctl="$(file_off $t/ctl):2097152"
    done
    if wait_marker a scanned-a && wait_marker b scanned-b; then
        ctl_set 0 go
    fi
    local rss0 q0 rss1 q1 m=x t0
    if [ $rc = 0 ] && [ -n "$churn" ] && wait_marker a churn-start; then
        rss0=$(rss_kib "${DPID[d]}") q0=$(rss_kib "${VM_PID[a]}")
        "$BIN" creat -s 4096 a/go-churn
        if wait_marker a churn-done 600; then
            t0=$SECONDS
            until m=$(status_of d "$S-a.sock" mappings) && [ "$m" = 0 ]; do
                [ $((SECONDS - t0)) -lt 30 ] || break
                sleep 0.1
            done
            rss1=$(rss_kib "${DPID[d]}") q1=$(rss_kib "${VM_PID[a]}")
            say "after the churn: a's live mappings $m; daemon RSS $((rss0 / 1024)) -> $((rss1 / 1024)) MiB, QEMU a $((q0 / 1024)) -> $((q1 / 1024)) MiB"
            [ "$m" = 0 ] || bad "a's socket still has $m live mappings after the churn"
            [ $((rss1 - rss0)) -lt 32768 ] || bad "daemon RSS grew by $(((rss1 - rss0) / 1024)) MiB"
            [ $((q1 - q0)) -lt 65536 ] || bad "QEMU RSS grew by $(((q1 - q0) / 1024)) MiB"
            say "a's requests: $(status_of d "$S-a.sock" requests | grep -o -E '(get_fmap|forget)=[0-9]+' | tr '\n' ' ')"
        fi
        "$BIN" creat -s 4096 a/counted
    fi
    "$BIN" status --control-socket "$tmp/$S.daemon-d.ctl" | grep -E '^socket|mappings|requests' | sed 's/^ */  [daemon] /' || true
    [ $rc = 0 ] || abort_vms
    finish_vms a b
    [ $rc = 0 ] || return
    grep -a -E 'WARN|ERROR' "$tmp/$S.daemon-d.log" | sed 's/^.*Z /  [daemon] /' | head -n 5 || true
    fsck_clean
}

sc_isolation_bench() {
    GUEST=isolation-bench
    fresh_fs
    local i med_i med_w
    "$BIN" mkdir a
    "$BIN" mkdir a/churn
    for i in $(seq 1 100); do "$BIN" creat -s 4096 a/churn/$i; done
    start_daemon d "$S-i.sock,role=client,tag=iso,isolate=on" "$S-w.sock,role=client,tag=whole" || return
    VM_APPEND="famfs_test.scenario=$GUEST famfs_test.vm=a famfs_test.rounds=$BENCH_ROUNDS" \
        vm_start a "$tmp/ir.cpio.gz" "$tmp/$S.a.log" \
        -chardev socket,id=fs0,path="$tmp/$S-i.sock" \
        -device vhost-user-test-device-pci,chardev=fs0,virtio-id=6,num_vqs=2,config_size=96 \
        -chardev socket,id=fs1,path="$tmp/$S-w.sock" \
        -device vhost-user-test-device-pci,chardev=fs1,virtio-id=6,num_vqs=2,config_size=96
    finish_vms a
    [ $rc = 0 ] || return
    tr -d '\r' <"$tmp/$S.a.log" | grep -a '^bench round' | sed 's/^/  [a] /'
    # The median over rounds of each round's median per file (us).
    med_i=$(tr -d '\r' <"$tmp/$S.a.log" | awk '/^bench round .* isolated:/ {print $(NF - 4)}' | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
    med_w=$(tr -d '\r' <"$tmp/$S.a.log" | awk '/^bench round .* whole:/ {print $(NF - 4)}' | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
    say "first open + map + touch, median per file: isolated $med_i us, whole window $med_w us (ratio $(awk -v a="$med_i" -v b="$med_w" 'BEGIN {printf "%.2f", a / b}'))"
}

sc_host_creates() {
    GUEST=host-creates
    fresh_fs
    start_daemon d "$S-a.sock,role=master" "$S-b.sock,role=client" || return
    boot a "$S-a.sock"
    boot b "$S-b.sock"
    if wait_marker a ready-a && wait_marker b ready-b; then
        "$BIN" mkdir -p h/sub
        "$BIN" creat -s 4M -S 31 h/one
        "$BIN" creat -s 2M -S 32 h/sub/two
        "$BIN" cp "$tmp/famfs-tool" h/famfs-tool
        ctl_set 0 created
        say "host: created h/one, h/sub/two and copied h/famfs-tool while both VMs were mounted"
    fi
    [ $rc = 0 ] || abort_vms
    finish_vms a b
    fsck_clean
}

sc_concurrent_creators() {
    GUEST=concurrent-creators
    fresh_fs
    "$BIN" mkdir h
    start_daemon d "$S-a.sock,role=master" "$S-b.sock,role=client" || return
    boot a "$S-a.sock" famfs_test.count="$CREATORS"
    boot b "$S-b.sock" famfs_test.count="$CREATORS"
    local i t0 before=0 na nh
    if wait_marker a start; then
        t0=$(date +%s%N)
        for ((i = 1; i <= CREATORS; i++)); do
            "$BIN" creat -s 2M "h/f$i" || { bad "host creat h/f$i"; break; }
            grep -q 'GUEST-HOST: a-done' "$tmp/$S.a.log" || before=$i
        done
        say "host: created $CREATORS files in $(ms_since "$t0") ms ($before of them while a was still creating)"
        if wait_marker a a-done; then
            fsck_clean
            na=$("$BIN" ls a | wc -l); nh=$("$BIN" ls h | wc -l)
            say "host: lists $na files in a/ and $nh in h/"
            [ "$na" = "$CREATORS" ] && [ "$nh" = "$CREATORS" ] || bad "host lists $na + $nh files"
            ctl_set 1 all-done
        fi
    fi
    [ $rc = 0 ] || abort_vms
    finish_vms a b
}

sc_pending_name() {
    GUEST=pending-name
    fresh_fs
    start_daemon d "$S-a.sock,role=master" "$S-b.sock,role=master" || return
    boot a "$S-a.sock"
    boot b "$S-b.sock"
    finish_vms a b
    [ "$("$BIN" ls | grep -cx x)" = 1 ] || bad "host lists x $("$BIN" ls | grep -cx x) times"
    fsck_clean
}

sc_subtree() {
    GUEST=subtree
    fresh_fs
    local p
    vm_subtree_fill
    start_daemon d "$S-a.sock,role=master,subtree=/a" "$S-b.sock,role=master,subtree=/b" || return
    boot a "$S-a.sock"
    boot b "$S-b.sock"
    finish_vms a b
    while read -r p; do bad "$p"; done < <(vm_subtree_misplaced)
    [ $rc = 0 ] && say "host: a's and b's creations are under a/ and b/ only"
    fsck_clean
}

sc_faults() {
    GUEST=faults
    fresh_fs
    "$BIN" creat -s 4M -S 5 s
    "$BIN" creat -s 2M m
    start_daemon d "$S-a.sock,role=master" "$S-b.sock,role=client" || return
    boot a "$S-a.sock"
    boot b "$S-b.sock"
    local t0 trouble f n listed=0 filled=0
    if wait_marker b b-working && wait_marker a a-working; then
        kill_vm b
        ctl_set 1 b-killed
        say "host: killed b's QEMU (kill -9) while a and b were reading and writing s and m"
        trouble=$(tr -d '\r' <"$tmp/$S.b.log" | grep -E 'WARNING:|BUG:|Oops|Call Trace|Kernel panic|GUEST-CHECK: FAIL' || true)
        [ -z "$trouble" ] || bad "b's log before the kill: $trouble"
        if wait_marker a kill-daemon; then
            kill -KILL "${DPID[d]}"
            wait "${DPID[d]}" 2>/dev/null || true
            vm_unregister_pid "${DPID[d]}"
            unset "DPID[d]"
            t0=$(date +%s%N)
            say "host: killed the daemon (kill -9) while a was creating files"
        fi
    fi
    [ $rc = 0 ] || abort_vms
    finish_vms a
    [ $rc = 0 ] || return
    grep -a 'VMM disconnected' "$tmp/$S.daemon-d.log" | sed 's/^.*] /  [daemon] /' || true
    fsck_clean
    # Every file the host lists is intact: 2 MiB, and the seeded pattern in
    # every one a reported filled; every file a reported is listed. The
    # kernel's console messages (request timeouts once the daemon is gone)
    # can land in the middle of a's output line, so the names are picked
    # out of the log, not whole lines.
    local created
    created=$(tr -d '\r' <"$tmp/$S.a.log" | grep -o 'GUEST-CREATED: c/f[0-9][0-9]*' |
        sed 's|.*c/||' | sort -u || true)
    for f in $("$BIN" ls c); do
        listed=$((listed + 1))
        [ "$("$BIN" stat "c/$f" | awk '/size:/ {print $2; exit}')" = 2097152 ] || bad "c/$f: size"
        if grep -qx -- "$f" <<<"$created"; then
            "$BIN" verify -S "${f#f}" "c/$f" >/dev/null || bad "c/$f: content"
            filled=$((filled + 1))
        fi
    done
    n=$(grep -c . <<<"$created" || true)
    [ "$n" = "$filled" ] || bad "a filled $n files ($(echo $created)), the host verified $filled"
    say "host: c/ lists $listed files, the $filled that a filled hold their patterns"
    # The killed daemon may have died inside an append: the log still
    # takes the next one, and fsck stays clean after it.
    "$BIN" mkdir after-kill || bad "appending after the daemon's kill failed"
    fsck_clean
}

# hmp SOCKET COMMAND: one QEMU human monitor command; prints the reply.
hmp() {
    python3 - "$@" <<'PY'
import re, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(10)
def reply():
    buf = b""
    while not buf.endswith(b"(qemu) "):
        d = s.recv(4096)
        if not d:
            break
        buf += d
    return buf.decode(errors="replace")
reply()
s.sendall(sys.argv[2].encode() + b"\n")
out = re.sub(r"\x1b\[[0-9;]*[A-Za-z]|\r", "", reply())
print("\n".join(l for l in out.splitlines()[1:] if l and not l.startswith("(qemu)")))
PY
}

# reconnect: what QEMU 11.1.2 does with reconnect-ms (reported, not judged).
sc_reconnect() {
    GUEST=reconnect
    fresh_fs
    "$BIN" creat -s 4M -S 7 f
    local dev="vhost-user-test-device-pci,chardev=fs0,virtio-id=6,num_vqs=2,config_size=96"
    local chr="socket,id=fs0,path=$tmp/$S-a.sock,reconnect-ms=1000" t0 n
    # 1. The device on the command line, as everywhere else.
    start_daemon d "$S-a.sock,role=master" || return
    VM_APPEND="famfs_test.scenario=$GUEST famfs_test.vm=a" \
        vm_start a "$tmp/ir.cpio.gz" "$tmp/$S.a.log" -chardev "$chr" -device "$dev"
    vm_wait a 60 >/dev/null 2>&1 || true
    say "1. -chardev $chr -device ...: QEMU says:"
    tr -d '\r' <"$tmp/$S.a.log" | grep -a 'qemu-system' | sed 's/^/  [qemu] /' || true
    # 2. The device hot-plugged once the chardev is connected: realize
    # then finds it connected. The guest needs pci=no_e820 to place the
    # hot-plugged 1 GiB BAR (QEMU's "-cpu max" E820-reserves the top of
    # the 40-bit space, where the 64-bit PCI window lies) and the root port
    # a 64-bit prefetchable window that can hold it.
    stop_daemons
    start_daemon d "$S-a.sock,role=master" || return
    VM_APPEND="famfs_test.scenario=$GUEST famfs_test.vm=a ${RECONNECT_APPEND-pci=no_e820}" \
        vm_start a "$tmp/ir.cpio.gz" "$tmp/$S.a.log" -chardev "$chr" \
        -device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,pref64-reserve=2G \
        -monitor unix:"$tmp/$S.mon",server=on,wait=off
    if wait_marker a booted 120; then
        say "2. QEMU booted with the reconnecting chardev and no device; hot-plugging it"
        n=$(hmp "$tmp/$S.mon" "device_add $dev,bus=rp1,id=famfs0")
        say "   device_add $dev,bus=rp1: ${n:-ok}"
        if wait_marker a mounted 60; then
            say "   the hot-plugged device mounted; killing the daemon (kill -9) and starting a new one"
            kill -KILL "${DPID[d]}"; wait "${DPID[d]}" 2>/dev/null || true
            vm_unregister_pid "${DPID[d]}"; unset "DPID[d]"
            sleep "${RECONNECT_DELAY:-0}"
            start_daemon d2 "$S-a.sock,role=master" || return
            t0=$SECONDS
            until grep -q 'VMM connected' "$tmp/$S.daemon-d2.log" || [ $((SECONDS - t0)) -ge 10 ]; do sleep 0.1; done
            if grep -q 'VMM connected' "$tmp/$S.daemon-d2.log"; then say "   QEMU reconnected to the new daemon"
            else say "   QEMU did not reconnect in 10 s"; fi
            "$BIN" creat -s 2M -S 9 late
            ctl_set 0 restarted
        fi
    fi
    rc=0
    vm_wait a 120 >/dev/null 2>&1 || true
    if grep -q 'Assertion' "$tmp/$S.a.log"; then
        say "   => QEMU aborted after reconnecting: $(tr -d '\r' <"$tmp/$S.a.log" | grep -a -m1 'Assertion' | sed 's/^qemu-system-x86_64: //')"
    fi
    tr -d '\r' <"$tmp/$S.a.log" | grep -a -E 'GUEST-RECONNECT|qemu-system|famfs:|virtio_famfs' | sed 's/^/  [a] /' || true
    n=$(grep -c 'VMM connected' "$tmp/$S.daemon-d2.log" 2>/dev/null || true)
    say "   the new daemon saw ${n:-0} connection(s):"
    grep -a -E 'INFO|WARN|ERROR' "$tmp/$S.daemon-d2.log" 2>/dev/null | sed 's/^.*Z /  [daemon] /' | head -n 20 || true
    rc=0
}

scenario() {
    local t0 n ms st
    S=$1 rc=0
    t0=$(date +%s%N)
    echo "=== $S"
    case $S in
        one-daemon|two-daemons) sc_exchange ;;
        ring) sc_ring ;;
        read-only) sc_read_only ;;
        isolation) sc_isolation master ro churn ;;
        isolation-clients) sc_isolation client client ;;
        isolation-swap) sc_isolation ro master ;;
        isolation-bench) sc_isolation_bench ;;
        metadata-safe) sc_metadata_safe ;;
        host-creates) sc_host_creates ;;
        concurrent-creators) sc_concurrent_creators ;;
        pending-name) sc_pending_name ;;
        subtree) sc_subtree ;;
        faults) sc_faults ;;
        reconnect) sc_reconnect ;;
    esac
    abort_vms
    for n in "${!VM_PID[@]}"; do vm_wait "$n" 10 >/dev/null 2>&1 || true; done
    stop_daemons
    ms=$(ms_since "$t0")
    if [ $rc != 0 ]; then st=FAIL; elif [ "$S" = reconnect ]; then st=REPORTED; else st=PASS; fi
    RESULTS+=("$(printf '%-20s %-8s %3d.%d s' "$S" "$st" $((ms / 1000)) $((ms % 1000 / 100)))")
    echo "=== $S: $st in $((ms / 1000)).$((ms % 1000 / 100)) s"
    return $rc
}

RESULTS=()
fails=0
for s in "$@"; do scenario "$s" || fails=$((fails + 1)); done
echo "--- summary"
printf '%s\n' "${RESULTS[@]}"
[ -z "$FORCED" ] || echo "read-only: forced BAR write from the role=ro VM $FORCED"
echo "total $(($(ms_since "$T_START") / 1000)) s"
if [ $fails = 0 ]; then echo "run-sharing-tests: PASS"; else echo "run-sharing-tests: $fails scenario(s) FAILED (VM_KEEP=1 keeps $tmp)"; fi
exit $((fails > 0))

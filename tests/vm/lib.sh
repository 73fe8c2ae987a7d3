# shellcheck shell=bash
# tests/vm/lib.sh — helpers for guest (VM) tests. Source it from bash:
#
#   . tests/vm/lib.sh
#   vm_setup                                # provision (cached) + env + cleanup trap
#   kos=$(vm_build_module guest-driver "$tmp/mod")
#   vm_build_initramfs "$tmp/ir.cpio.gz" my-test.sh $kos "$bin:/bin/probe"
#   vm_start g1 "$tmp/ir.cpio.gz" "$tmp/g1.log" -chardev socket,id=fs0,path="$sock" \
#       -device vhost-user-test-device-pci,chardev=fs0,virtio-id=NN,num_vqs=1
#   vm_wait g1 120                          # 0 only if the guest passed cleanly
#
# Call vm_start and vm_wait from the main shell, not from $(...) or a
# subshell: the QEMU process is a child of the shell that started it (it
# exits with that shell) and vm_wait reaps it there.
#
# Knobs (environment): VHOST_FAMFS_ACCEL=kvm|tcg, VM_MEM (1G), VM_SMP (2),
# VM_CPU (TCG CPU model, max), VM_APPEND (more kernel args), VM_KBUILD_W (1),
# VM_LOG_IGNORE (ERE of log lines vm_check_log skips), VM_KEEP=1 (keep
# vm_tmpdir dirs), VM_NO_PROVISION=1 (only source the cached env.sh).

VM_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
declare -gA VM_PID=() VM_LOG=()
declare -ga VM_CLEANUP_PIDS=() VM_CLEANUP_FILES=()
VM_TMP_ROOT=${VM_TMP_ROOT:-}

vm_log() { echo "[vm] $*" >&2; }

# log_has LOG REGEX: a line of the guest log LOG (carriage returns dropped)
# matches REGEX. Not a `tr | grep -q` pipeline: under pipefail, grep -q
# quitting at its first match makes tr die of SIGPIPE and the pipeline
# fail at random.
log_has() { grep -q -- "$2" < <(tr -d '\r' <"$1" 2>/dev/null); }

# vm_on_marker LOG MARKER CMD...: in the background, run CMD once the guest
# log LOG has the line MARKER (polled for 10 minutes at most).
vm_on_marker() {
    local log=$1 marker=$2; shift 2
    (
        for _ in $(seq 1 6000); do
            if log_has "$log" "^$marker\$"; then
                "$@"; exit 0
            fi
            sleep 0.1
        done
    ) &
}

# vm_wait_marker NAME LOG MARKER SECS: until VM NAME's guest log LOG has
# the line "GUEST-HOST: MARKER". Fails, saying why on stdout, if the VM
# ends first or SECS seconds pass.
vm_wait_marker() {
    local name=$1 log=$2 m=$3 secs=$4 t0=$SECONDS pid=${VM_PID[$1]:-}
    until log_has "$log" "GUEST-HOST: $m\$"; do
        if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null || grep -q 'GUEST-RESULT:' "$log"; then
            echo "$name ended before '$m'"; return 1
        fi
        [ $((SECONDS - t0)) -lt "$secs" ] || { echo "no '$m' from $name in $secs s"; return 1; }
        sleep 0.05
    done
}

# vm_setup: provision (fast when cached), export QEMU KERNEL KHEADERS BUSYBOX
# KVER KCONFIG KMODULES, and install the cleanup trap.
vm_setup() {
    local cache=${VHOST_FAMFS_CACHE:-$HOME/.cache/vhost-famfs}
    if [ -z "${VM_NO_PROVISION:-}" ]; then
        "$VM_LIB_DIR/provision.sh" || return 1
    fi
    [ -f "$cache/env.sh" ] || { vm_log "no $cache/env.sh: run tests/vm/provision.sh"; return 1; }
    # shellcheck source=/dev/null
    . "$cache/env.sh"
    vm_install_trap
}

# vm_accel: kvm only where it can run a stock guest (writable /dev/kvm and
# hardware virtualization in cpuinfo; the paravirtual KVM of some hosts has
# neither vmx nor svm and fails on Debian kernels), else tcg.
vm_accel() {
    case ${VHOST_FAMFS_ACCEL:-auto} in
        kvm|tcg) echo "$VHOST_FAMFS_ACCEL" ;;
        auto)
            if [ -w /dev/kvm ] && grep -qw -e vmx -e svm /proc/cpuinfo; then echo kvm; else echo tcg; fi ;;
        *) vm_log "VHOST_FAMFS_ACCEL must be kvm or tcg"; return 1 ;;
    esac
}

# vm_build_module SRC_DIR OUT_DIR: copy SRC_DIR to OUT_DIR/<name of SRC_DIR>
# (the source tree stays clean), with its sibling spec/ (the wire header,
# which guest-driver/Kbuild includes as ../spec) copied to OUT_DIR/spec, and
# build it out of tree against $KHEADERS with W=1. Fails on any compiler or
# modpost warning, or a vermagic other than $KVER. Prints the built .ko
# paths, one per line.
vm_build_module() {
    local src=$1 out mod spec ko kos
    out=$(realpath -m "$2")
    [ -d "$src" ] || { vm_log "vm_build_module: no directory $src"; return 1; }
    [ -n "${KHEADERS:-}" ] || { vm_log "vm_build_module: KHEADERS unset (vm_setup first)"; return 1; }
    case $out/ in "$(realpath "$src")"/*) vm_log "vm_build_module: OUT_DIR must not be inside SRC_DIR"; return 1 ;; esac
    rm -rf "$out"; mkdir -p "$out"
    mod=$out/$(basename "$(realpath "$src")")
    mkdir -p "$mod"
    cp -a "$src"/. "$mod"/
    spec=$(realpath "$src")/../spec
    if [ -d "$spec" ] && [ "$(basename "$mod")" != spec ]; then
        mkdir -p "$out/spec" && cp -a "$spec"/. "$out/spec"/
    fi
    if ! make -C "$KHEADERS" M="$mod" W="${VM_KBUILD_W:-1}" -j"$(nproc)" modules >"$out/build.log" 2>&1; then
        cat "$out/build.log" >&2; vm_log "module build failed ($out/build.log)"; return 1
    fi
    # Case-insensitive: gcc says "warning:", modpost says "WARNING:".
    if grep -qi 'warning:' "$out/build.log"; then
        grep -i -B2 -A3 'warning:' "$out/build.log" >&2
        vm_log "module build has warnings ($out/build.log)"; return 1
    fi
    kos=$(find "$out" -name '*.ko' | sort)
    [ -n "$kos" ] || { vm_log "module build produced no .ko"; return 1; }
    for ko in $kos; do
        grep -aq "vermagic=$KVER " "$ko" || { vm_log "$ko: vermagic is not $KVER"; return 1; }
    done
    echo "$kos"
}

# vm_distro_kmod NAME: path of the distro module NAME (e.g. device_dax),
# decompressed once into the cache. Dependencies are not resolved: list them
# before it when building the initramfs.
vm_distro_kmod() {
    local name=$1 src dst
    dst=$VHOST_FAMFS_CACHE/kernel/$KVER/kmods/$name.ko
    if [ ! -f "$dst" ]; then
        src=$(find "$KMODULES/kernel" \( -name "$name.ko" -o -name "$name.ko.*" \) | head -n1)
        [ -n "$src" ] || { vm_log "no distro module $name in $KMODULES"; return 1; }
        mkdir -p "${dst%/*}"
        vm_decompress "$src" "$dst.tmp" && mv "$dst.tmp" "$dst" || return 1
    fi
    echo "$dst"
}

# vm_decompress SRC DST: copy, undoing .xz/.zst/.gz.
vm_decompress() {
    case $1 in
        *.xz) xz -dc "$1" >"$2" ;;
        *.zst) zstd -dcq "$1" >"$2" ;;
        *.gz) gzip -dc "$1" >"$2" ;;
        *) cp "$1" "$2" ;;
    esac
}

# vm_build_initramfs OUT.cpio.gz TEST_SCRIPT [ITEM...]
#   ITEM = path/x.ko[.xz|.zst|.gz]  module insmod'ed at boot, in the given order
#        | SRC:DEST                 file copied to DEST (absolute) in the guest
#        | path/prog                copied to /bin/prog (must be static)
# The generated /init mounts proc, sys, devtmpfs, debugfs and tmpfs /tmp,
# insmods the modules, runs TEST_SCRIPT with busybox sh from /tmp, prints
# GUEST-TAINTED: <n> and GUEST-RESULT: PASS|FAIL, and powers off.
vm_build_initramfs() {
    local out=$1 script=$2; shift 2
    local root item src dest n=0 m
    [ -f "$script" ] || { vm_log "vm_build_initramfs: no test script $script"; return 1; }
    root=$(mktemp -d "${VM_TMP_ROOT:-${TMPDIR:-/tmp}}/initramfs.XXXXXX")
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,mnt,etc,modules}
    cp "$BUSYBOX" "$root/bin/busybox"
    cp "$script" "$root/test.sh"
    : >"$root/modules/order"
    for item in "$@"; do
        case $item in
            *.ko|*.ko.xz|*.ko.zst|*.ko.gz)
                # Numbered names keep the load order and allow equal basenames.
                n=$((n + 1)); m=$(printf '%02d-%s' "$n" "$(basename "${item%.ko*}").ko")
                vm_decompress "$item" "$root/modules/$m" || { rm -rf "$root"; return 1; }
                echo "$m" >>"$root/modules/order" ;;
            *:/*)
                src=${item%:/*}; dest=/${item##*:/}
                mkdir -p "$root$(dirname "$dest")"
                cp -a "$src" "$root$dest" || { rm -rf "$root"; return 1; } ;;
            *)
                vm_check_static "$item" || { rm -rf "$root"; return 1; }
                cp -a "$item" "$root/bin/" || { rm -rf "$root"; return 1; } ;;
        esac
    done
    vm_write_init >"$root/init"
    chmod +x "$root/init"
    mkdir -p "$(dirname "$out")"
    # The host has no cpio; busybox's writes the newc format the kernel reads.
    (cd "$root" && find . | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc 2>/dev/null) | gzip -1 >"$out.tmp" \
        && mv "$out.tmp" "$out"
    local rc=$?
    rm -rf "$root"
    return $rc
}

# vm_check_static FILE: the initramfs has no libc, so ELF programs must be static.
vm_check_static() {
    local hdr
    [ -f "$1" ] || { vm_log "no such file: $1"; return 1; }
    [ "$(head -c4 "$1" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || return 0
    hdr=$(readelf -lW "$1" 2>/dev/null) || return 0
    if grep -q 'Requesting program interpreter' <<<"$hdr"; then
        vm_log "$1 is dynamically linked; the guest has no libc (build it static)"; return 1
    fi
}

vm_write_init() {
    cat <<'EOF'
#!/bin/busybox sh
# Generated by tests/vm/lib.sh (vm_build_initramfs).
/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug
echo "GUEST-INIT: kernel $(uname -r), $(nproc) CPUs, init at $(cut -d' ' -f1 /proc/uptime)s"
result=PASS
while read -r m; do
    [ -n "$m" ] || continue
    if insmod "/modules/$m"; then echo "GUEST-INIT: insmod $m ok"
    else echo "GUEST-INIT: insmod $m FAILED"; result=FAIL; fi
done </modules/order
if [ $result = PASS ]; then
    echo "GUEST-INIT: running test script"
    (cd /tmp && exec sh /test.sh)
    rc=$?
    echo "GUEST-INIT: test script exited $rc at $(cut -d' ' -f1 /proc/uptime)s"
    [ $rc = 0 ] || result=FAIL
fi
# Kernel warnings and worse again, in case the console log level hid them.
dmesg -r | grep '^<[0-4]>' | sed 's/^/GUEST-KLOG: /'
echo
echo "GUEST-TAINTED: $(cat /proc/sys/kernel/tainted)"
echo "GUEST-RESULT: $result"
# A lock an oops left held would block sync, and poweroff -f syncs first.
timeout 10 sync || true
poweroff -n -f
EOF
}

# vm_start NAME INITRAMFS LOGFILE [QEMU ARGS...]: boot $KERNEL with INITRAMFS
# in the background on q35; console and QEMU's own messages go to LOGFILE.
# Guest RAM is a shared memfd so a vhost-user backend can map it.
vm_start() {
    local name=$1 initrd=$2 log=$3; shift 3
    local mem=${VM_MEM:-1G} accel pid
    local -a acc
    accel=$(vm_accel) || return 1
    case $accel in
        kvm) acc=(-accel kvm -cpu host) ;;
        # "max" offers pse/pdpe1gb, so 2 MiB and 1 GiB mappings are possible.
        tcg) acc=(-accel "tcg,thread=multi" -cpu "${VM_CPU:-max}") ;;
    esac
    [ -z "${VM_PID[$name]:-}" ] || { vm_log "vm_start: VM $name already started"; return 1; }
    [ -f "$initrd" ] || { vm_log "vm_start: no initramfs $initrd"; return 1; }
    mkdir -p "$(dirname "$log")"
    # no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer
    # check can miss its window and panic the boot ("IO-APIC + timer doesn't
    # work"); the emulated timer is fine, so skip the check.
    # VM_MAXMEM: room for memory devices (virtio-pmem) beside the RAM.
    "$QEMU" -name "$name" -machine q35,memory-backend=mem "${acc[@]}" -smp "${VM_SMP:-2}" \
        -m "$mem${VM_MAXMEM:+,maxmem=$VM_MAXMEM}" \
        -object memory-backend-memfd,id=mem,size="$mem",share=on \
        -nodefaults -display none -chardev stdio,id=con,signal=off -serial chardev:con \
        -no-reboot -run-with exit-with-parent=on \
        -kernel "$KERNEL" -initrd "$initrd" \
        -append "console=ttyS0 panic=-1 oops=panic no_timer_check cryptomgr.notests mitigations=off ${VM_APPEND:-}" \
        "$@" </dev/null >"$log" 2>&1 &
    pid=$!
    VM_PID[$name]=$pid
    VM_LOG[$name]=$log
    vm_register_pid "$pid"
    vm_log "started $name (pid $pid, $accel, $mem), log $log"
}

# vm_wait NAME TIMEOUT_S: wait for the guest to power off, then vm_check_log.
# A timeout kills QEMU and fails. On failure the log's tail goes to stderr.
vm_wait() {
    local name=$1 timeout=$2 pid log rc=0 t0=$SECONDS
    pid=${VM_PID[$name]:-}
    log=${VM_LOG[$name]:-}
    [ -n "$pid" ] || { vm_log "vm_wait: no VM $name"; return 1; }
    while kill -0 "$pid" 2>/dev/null; do
        if [ $((SECONDS - t0)) -ge "$timeout" ]; then
            vm_log "$name: timeout after ${timeout}s, killing QEMU"
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            rc=124
            break
        fi
        sleep 0.1
    done
    [ $rc != 0 ] || wait "$pid" || rc=$?
    vm_unregister_pid "$pid"
    unset "VM_PID[$name]"
    if [ $rc = 0 ] && vm_check_log "$log"; then
        vm_log "$name: PASS in $((SECONDS - t0))s"
        return 0
    fi
    [ $rc = 0 ] || vm_log "$name: QEMU exit status $rc"
    vm_log "$name: FAIL; last lines of $log:"
    tail -n 40 "$log" | tr -d '\r' | sed 's/^/    /' >&2
    return 1
}

# vm_check_log LOG: the guest printed GUEST-RESULT: PASS, no kernel
# warning/BUG/oops/trace/panic, and a taint of at most O (out-of-tree module,
# 4096) and E (unsigned module, 8192).
vm_check_log() {
    local log=$1 text bad taint l fail=0
    [ -f "$log" ] || { vm_log "no log $log"; return 1; }
    text=$(tr -d '\r' <"$log")
    if [ -n "${VM_LOG_IGNORE:-}" ]; then text=$(grep -Ev -- "$VM_LOG_IGNORE" <<<"$text" || true); fi
    if ! grep -q 'GUEST-RESULT: PASS' <<<"$text"; then
        vm_log "$log: no 'GUEST-RESULT: PASS'"; fail=1
    fi
    bad=$(grep -nE 'WARNING:|BUG:|kernel BUG|Oops|general protection|Call Trace|Kernel panic|UBSAN:|INFO: task .* blocked|rcu: .*stall|segfault at' <<<"$text" | head -n 20 || true)
    if [ -n "$bad" ]; then
        vm_log "$log: kernel trouble:"
        while IFS= read -r l; do echo "    $l"; done <<<"$bad" >&2
        fail=1
    fi
    taint=$(sed -n 's/.*GUEST-TAINTED: \([0-9][0-9]*\).*/\1/p' <<<"$text" | tail -n1)
    if [ -z "$taint" ]; then
        vm_log "$log: no GUEST-TAINTED line"; fail=1
    elif [ $((taint & ~(4096 | 8192))) != 0 ]; then
        vm_log "$log: kernel tainted $taint ($(vm_taint_flags "$taint")); only O and E are allowed"; fail=1
    fi
    return $fail
}

# vm_taint_flags N: the kernel's letters for a /proc/sys/kernel/tainted value.
vm_taint_flags() {
    local letters=PFSRMBUDAWCIOELKXTNJ i out=
    for ((i = 0; i < ${#letters}; i++)); do
        [ $(($1 >> i & 1)) = 0 ] || out+=${letters:i:1}
    done
    echo "$out"
}

# vm_wait_socket PATH TIMEOUT_S: wait for a backend's UNIX socket to appear
# (QEMU connects to it at start and fails if it is not there yet).
vm_wait_socket() {
    local t0=$SECONDS
    until [ -S "$1" ]; do
        [ $((SECONDS - t0)) -lt "$2" ] || { vm_log "socket $1 did not appear in $2 s"; return 1; }
        sleep 0.05
    done
}

# vm_register_pid PID: kill PID (e.g. a vhost-user daemon) at cleanup. The
# start time is kept so a recycled PID is never killed.
vm_register_pid() {
    local st
    st=$(vm_pid_start "$1") || return 0
    VM_CLEANUP_PIDS+=("$1:$st")
}

vm_unregister_pid() {
    local i
    for i in "${!VM_CLEANUP_PIDS[@]}"; do
        [ "${VM_CLEANUP_PIDS[i]%%:*}" != "$1" ] || unset "VM_CLEANUP_PIDS[i]"
    done
}

# vm_pid_start PID: field 22 of /proc/PID/stat (start time, in ticks).
vm_pid_start() {
    local stat f
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    # Split after "(comm)", which may contain spaces: field 22 is f[19].
    read -ra f <<<"${stat##*) }"
    echo "${f[19]}"
}

# vm_tmpdir: a fresh directory, removed at cleanup (kept with VM_KEEP=1).
# It lives under $VM_TMP_ROOT (made by vm_install_trap), so d=$(vm_tmpdir)
# works although the subshell cannot register anything.
vm_tmpdir() {
    [ -n "${VM_TMP_ROOT:-}" ] || { vm_log "vm_tmpdir: call vm_setup (or vm_install_trap) first"; return 1; }
    mktemp -d "$VM_TMP_ROOT/XXXXXX"
}

# vm_cleanup: TERM every registered process still alive (the same process,
# by start time), KILL what is left after 3 s, remove the vm_cleanup_file
# files (device files live in /dev/shm, outside vm_tmpdir dirs) and the
# vm_tmpdir dirs. Runs
# from the EXIT trap; call it yourself if you replace that trap.
vm_cleanup() {
    local rc=$? e pid st alive=() i still
    for e in "${VM_CLEANUP_PIDS[@]}"; do
        pid=${e%%:*} st=${e#*:}
        [ "$(vm_pid_start "$pid" 2>/dev/null)" = "$st" ] || continue
        kill -TERM "$pid" 2>/dev/null && alive+=("$pid")
    done
    for ((i = 0; i < 30 && ${#alive[@]} > 0; i++)); do
        still=()
        for pid in "${alive[@]}"; do kill -0 "$pid" 2>/dev/null && still+=("$pid"); done
        alive=("${still[@]}")
        [ ${#alive[@]} = 0 ] || sleep 0.1
    done
    for pid in "${alive[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    VM_CLEANUP_PIDS=()
    [ ${#VM_CLEANUP_FILES[@]} = 0 ] || rm -f "${VM_CLEANUP_FILES[@]}"
    VM_CLEANUP_FILES=()
    if [ -n "${VM_TMP_ROOT:-}" ]; then
        if [ -z "${VM_KEEP:-}" ]; then rm -rf "$VM_TMP_ROOT"; else vm_log "kept $VM_TMP_ROOT"; fi
        VM_TMP_ROOT=
    fi
    return $rc
}

# vm_install_trap: run vm_cleanup on exit, including Ctrl-C and TERM, and
# make the per-run temporary root for vm_tmpdir.
vm_install_trap() {
    [ -n "$VM_TMP_ROOT" ] || VM_TMP_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/vhost-famfs-vm.XXXXXX")
    trap vm_cleanup EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# vm_cleanup_file FILE...: remove FILEs at cleanup.
vm_cleanup_file() { VM_CLEANUP_FILES+=("$@"); }

# vm_daemon_setup NAME: the set-up of a suite that runs the vhost-famfs
# daemon: vm_setup, tmp=$(vm_tmpdir), BIN = the daemon built (release) from
# this tree, the system UUID every suite's guests expect, and
# VHOST_FAMFS_DEVICE=/dev/shm/NAME.<pid>.dev, removed at cleanup.
vm_daemon_setup() {
    vm_setup || return
    tmp=$(vm_tmpdir) || return
    BIN=$VM_LIB_DIR/../../target/release/vhost-famfs
    (cd "$VM_LIB_DIR/../.." && cargo build --release --locked --quiet -p vhost-famfs) || return
    export VHOST_FAMFS_SYSTEM_UUID=5e1f0000-1111-4222-8333-444455556666
    export VHOST_FAMFS_DEVICE=/dev/shm/$1.$$.dev
    vm_cleanup_file "$VHOST_FAMFS_DEVICE"
}

# vm_scenarios "DEFAULT..." "EXTRA..." [ARG...]: VM_SCENARIOS = the ARGs,
# or every DEFAULT word without any; 2 (naming the known ones) for an ARG
# that is neither a DEFAULT nor an EXTRA word (run only when named).
vm_scenarios() {
    local known="$1 $2" s
    read -ra VM_SCENARIOS <<<"$1"
    shift 2
    [ $# = 0 ] || VM_SCENARIOS=("$@")
    for s in "${VM_SCENARIOS[@]}"; do
        case " $known " in
            *" $s "*) ;;
            *) echo "unknown scenario $s (known: ${known% })" >&2; return 2 ;;
        esac
    done
}

# vm_run_scenarios SUITE FUNC SCENARIO...: FUNC SCENARIO for each, then
# "SUITE: PASS" or the count failed (and where VM_KEEP=1 keeps the logs);
# non-zero if any failed.
vm_run_scenarios() {
    local suite=$1 func=$2 s fails=0
    shift 2
    for s in "$@"; do "$func" "$s" || fails=$((fails + 1)); done
    if [ $fails = 0 ]; then
        echo "$suite: PASS"
    else
        echo "$suite: $fails scenario(s) FAILED (VM_KEEP=1 keeps $VM_TMP_ROOT)"
        return 1
    fi
}

# vm_virtiofsd_small VIRTIOFSD DIR SOCK LOG: DIR/small/f1..f10000 (4 KiB
# of zeros each, the small files of the opening benchmarks) shared by
# VIRTIOFSD on SOCK, its debug log (a line per request, which the
# benchmarks count) in LOG; its PID in VM_VIRTIOFSD_PID, killed at
# cleanup.
vm_virtiofsd_small() {
    local i
    mkdir -p "$2/small"
    for i in $(seq 1 10000); do head -c 4096 /dev/zero >"$2/small/f$i"; done
    "$1" --socket-path "$3" --shared-dir "$2" \
        --cache auto --sandbox none --log-level debug >"$4" 2>&1 &
    VM_VIRTIOFSD_PID=$!
    vm_register_pid "$VM_VIRTIOFSD_PID"
    vm_wait_socket "$3" 10
}

# vm_subtree_fill: with $BIN, the exports of the subtree scenarios
# (guest/subtree.sh): for V in a and b, V/fV (1 MiB, seed 11) and
# V/dV/fV2 (2 MiB, seed 12).
vm_subtree_fill() {
    local v
    for v in a b; do
        "$BIN" mkdir -p "$v/d$v"
        "$BIN" creat -s 1M -S 11 "$v/f$v"
        "$BIN" creat -s 2M -S 12 "$v/d$v/f${v}2"
    done
}

# vm_subtree_misplaced: one line for each file the subtree guests made
# (new-V, dir-V/f) that is not under V/ or is at the root.
vm_subtree_misplaced() {
    local v f
    for v in a b; do
        for f in "new-$v" "dir-$v/f"; do
            "$BIN" stat "$v/$f" >/dev/null 2>&1 || echo "host: no $v/$f"
            ! "$BIN" stat "$f" >/dev/null 2>&1 || echo "host: $f at the root"
        done
    done
}

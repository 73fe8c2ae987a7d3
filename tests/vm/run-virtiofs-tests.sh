#!/bin/bash
# Real-guest tests of the virtio-fs front door (serve --socket
# PATH,proto=virtio-fs) in copy mode: stock Debian 6.12 guests with NO
# module loaded mount QEMU's vhost-user-fs-pci device with the kernel's
# own virtiofs driver.
#
#   tests/vm/run-virtiofs-tests.sh [SCENARIO...]
#
# Scenarios (default: all):
#   copy    master socket: guest `ls -l`/stat and df equal the host CLI's;
#           a BIG_SIZE file verified by read(2) and mmap and its md5 equal
#           to the host's; files created by truncate and filled by mmap
#           and write(2), checked on the host (`verify`, cmp); mkdir;
#           truncate/chmod (EPERM), rm/mv (ENOSYS), growing writes
#           (ENOSPC) refused; an unprivileged user gets EACCES writing
#           root's file or creating in root's directory; fsck clean
#   roles   a client socket and a ro socket at once: create/mkdir EROFS
#           on both; the client writes existing data, the ro VM cannot
#           (open for writing is EROFS); host bytes as expected
#   share   two VMs, default cache policy: a writes into a file b has read
#           (and mapped) and creates a file; b sees both without remount
#   subtree two VMs on sockets exporting /a and /b (subtree=): each sees
#           only its own tree, statfs counts it, creations land in it
#
# The daemon runs with its default seccomp filter (kill on a call outside
# the allow list): a daemon killed by SIGSYS fails the scenario.
#
# Knobs: BIG_SIZE (256M), VM_KEEP=1 keeps logs, DAEMON_WRAPPER=CMD runs the
# daemon under CMD (scripts/strace-daemon.sh: docs/sandboxing.md), and the
# tests/vm/lib.sh knobs.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GDIR=$ROOT/tests/vm/virtiofs
cd "$ROOT"
. tests/vm/lib.sh

vm_scenarios "copy roles share subtree" "" "$@" || exit 2
set -- "${VM_SCENARIOS[@]}"
vm_daemon_setup vhost-famfs-virtiofs
DEV=$VHOST_FAMFS_DEVICE
BIG_SIZE=${BIG_SIZE:-256M}

gcc -static -O2 -Wall -Wextra -Werror -o "$tmp/famfs-tool" tests/vm/guest/famfs-tool.c
items=()
for f in "$GDIR"/*.sh; do
    [ "$(basename "$f")" = guest-main.sh ] || items+=("$f:/virtiofs/$(basename "$f")")
done
# No module: the stock kernel's virtiofs driver is the client.
vm_build_initramfs "$tmp/ir.cpio.gz" "$GDIR/guest-main.sh" "$tmp/famfs-tool" "${items[@]}" \
    "$ROOT/tests/vm/guest/subtree.sh:/lib/subtree.sh"

S=
rc=0
say() { echo "$S: $*"; }
bad() { echo "$S: FAIL: $*"; rc=1; }

fresh_fs() {
    rm -f "$DEV"
    "$BIN" mkfs --size 1G >/dev/null
}
file_off() { echo $((16#$("$BIN" getmap "$1" | awk '/^\t\t/ {print $1; exit}'))); }
# mib LABEL: a whole-MiB figure of the host's fsck report.
mib() { "$BIN" fsck | awk -v l="$1" 'index($0, "  " l " ") == 1 {print $(NF - 1)}' | cut -d. -f1; }
extents() { "$BIN" getmap "$1" | awk '/^\t\t/ {n++} END {print n + 0}'; }
dev_read() { dd if="$DEV" iflag=skip_bytes,count_bytes skip="$1" count="$2" status=none; }
fsck_clean() {
    local out st=0
    out=$("$BIN" fsck 2>&1) || st=$?
    if [ $st = 0 ]; then say "fsck: clean"; else bad "fsck exit $st:"; sed 's/^/    /' <<<"$out"; fi
}

declare -A DPID=()
start_daemon() { # ID SOCK,OPTS...
    local id=$1 s args=()
    shift
    for s in "$@"; do rm -f "$tmp/${s%%,*}"; args+=(-s "$tmp/$s"); done
    ${DAEMON_WRAPPER:-} "$BIN" -v serve "${args[@]}" >"$tmp/$S.daemon-$id.log" 2>&1 &
    DPID[$id]=$!
    vm_register_pid "$!"
    for s in "$@"; do vm_wait_socket "$tmp/${s%%,*}" 10 || { bad "daemon $id: no socket"; return 1; }; done
}
stop_daemons() {
    local id pid st
    for id in "${!DPID[@]}"; do
        pid=${DPID[$id]}
        kill "$pid" 2>/dev/null || true
        st=0
        wait "$pid" 2>/dev/null || st=$?
        vm_unregister_pid "$pid"
        [ "$st" != $((128 + 31)) ] || bad "daemon $id killed by SIGSYS (seccomp)"
        if grep -aE 'panicked|RUST_BACKTRACE' "$tmp/$S.daemon-$id.log"; then bad "daemon $id panicked"; fi
    done
    DPID=()
}

# boot NAME SOCK TAG [KERNEL ARGS...]: VM NAME on QEMU's vhost-user-fs-pci.
boot() {
    local name=$1 sock=$2 tag=$3
    shift 3
    VM_APPEND="vfs_test.scenario=$S vfs_test.vm=$name vfs_test.tag=$tag $*" \
        vm_start "$name" "$tmp/ir.cpio.gz" "$tmp/$S.$name.log" \
        -chardev socket,id=fs0,path="$tmp/$sock" \
        -device vhost-user-fs-pci,chardev=fs0,tag="$tag"
}

# wait_marker NAME MARKER [SECS]: until VM NAME prints "GUEST-HOST: MARKER".
wait_marker() {
    local why
    why=$(vm_wait_marker "$1" "$tmp/$S.$1.log" "$2" "${3:-300}") || { bad "$why"; return 1; }
}

finish_vms() {
    local n
    for n in "$@"; do
        vm_wait "$n" 600 || bad "VM $n failed"
        tr -d '\r' <"$tmp/$S.$n.log" | grep -a 'GUEST-CHECK' | sed "s/^/  [$n] /" || true
    done
}

guest_lines() { tr -d '\r' <"$tmp/$S.$1.log" | sed -n "s/^$2: //p"; }

sc_copy() {
    fresh_fs
    "$BIN" creat -s "$BIG_SIZE" -S 11 big
    "$BIN" mkdir d
    "$BIN" creat -s 100 d/x
    [ "$(extents big)" = 1 ] || { bad "big has $(extents big) extents"; return; }
    local size
    size=$("$BIN" stat big | awk '/size:/ {print $2}')
    HOST_LS=$({ "$BIN" ls -l; "$BIN" ls -l d | awk '{ $6 = "d/" $6; print }'; } | awk '{print $1, $2, $3, $4, $5, $6}' | sort)
    DF_WANT="$(("$(mib "device size")" * 1024)) $(("$(mib free)" * 1024))"
    start_daemon d "copy.sock,proto=virtio-fs,role=master" || return
    local t0=$SECONDS
    boot g copy.sock famfs vfs_test.seed=11 vfs_test.size="$size"
    finish_vms g
    say "guest run: $((SECONDS - t0)) s (TCG) for a $BIG_SIZE file"
    stop_daemons
    [ $rc = 0 ] || return
    # ls -l and stat: mode, owner, size, inode, name.
    # (listed by the host before boot, by the guest before it created more)
    local host=$HOST_LS guest
    guest=$(guest_lines g GUEST-LS | awk '{print $1, $2, $3, ($1 ~ /^d/ ? 0 : $4), $5, $6}' | sort)
    if [ "$host" = "$guest" ]; then say "ls -l: guest = host ($(wc -l <<<"$host") entries)"
    else bad "ls -l differs:"; diff <(echo "$host") <(echo "$guest") | sed 's/^/    /' || true; fi
    # df: total and available KiB, as the host's fsck had them at boot.
    local df
    df=$(guest_lines g GUEST-DF)
    [ "$df" = "$DF_WANT" ] && say "df: guest = host: $df (total, available KiB)" ||
        bad "df: guest '$df', host '$DF_WANT' (total, available KiB)"
    # md5 of big: guest read(2) = host device bytes.
    local hmd5 gmd5
    hmd5=$(dev_read "$(file_off big)" "$size" | md5sum | cut -d' ' -f1)
    gmd5=$(guest_lines g GUEST-MD5)
    [ "$hmd5" = "$gmd5" ] && say "md5 of big: guest = host = $hmd5" || bad "md5 guest $gmd5 host $hmd5"
    # What the guest created.
    "$BIN" verify -S 23 new >/dev/null && say "host verify new (filled by guest mmap): ok" || bad "verify new"
    cmp -s <(dev_read "$(file_off new2)" 1048576) <(dev_read "$(file_off big)" 1048576) &&
        say "host: new2 (guest write(2)) = big's first MiB" || bad "new2 bytes"
    grep -qx 'deeper/' <<<"$("$BIN" ls sub)" && say "host: sub/deeper exists" || bad "no sub/deeper"
    [ "$("$BIN" stat big | awk '/size:/ {print $2}')" = "$size" ] || bad "big changed size"
    fsck_clean
}

sc_roles() {
    fresh_fs
    "$BIN" creat -s 1M -S 3 f
    "$BIN" creat -s 1M -S 4 g
    start_daemon d "client.sock,proto=virtio-fs,role=client" "ro.sock,proto=virtio-fs,role=ro" || return
    boot client client.sock famfs
    boot ro ro.sock famfs-ro
    finish_vms client ro
    stop_daemons
    [ $rc = 0 ] || return
    [ "$(dev_read "$(file_off f)" 6)" = client ] && say "host: f starts with the client's bytes" ||
        bad "client bytes missing"
    "$BIN" verify -S 4 g >/dev/null && say "host: g (ro VM) unchanged" || bad "g changed"
    [ "$("$BIN" ls | tr '\n' ' ')" = "f g " ] && say "host: no new files" || bad "host lists: $("$BIN" ls | tr '\n' ' ')"
    fsck_clean
}

sc_share() {
    fresh_fs
    "$BIN" creat -s 2M ctl
    "$BIN" creat -s 1M shared
    start_daemon d "a.sock,proto=virtio-fs,role=master" "b.sock,proto=virtio-fs,role=client" || return
    boot a a.sock famfs
    boot b b.sock famfs
    if wait_marker b b-read-old; then
        printf go | dd of="$DEV" bs=1 seek="$(file_off ctl)" conv=notrunc status=none
    else
        for n in a b; do kill -KILL "${VM_PID[$n]}" 2>/dev/null || true; done
    fi
    finish_vms a b
    stop_daemons
    [ $rc = 0 ] || return
    [ "$(dev_read $(($(file_off shared) + 4096)) 16)" = NEW-BYTES-FROM-A ] && say "host: a's bytes on the device" ||
        bad "a's bytes not on the device"
    "$BIN" verify -S 41 from-a >/dev/null && say "host verify from-a: ok" || bad "verify from-a"
    fsck_clean
}

sc_subtree() {
    fresh_fs
    local p
    "$BIN" creat -s 1M top
    vm_subtree_fill
    start_daemon d "a.sock,proto=virtio-fs,role=master,subtree=/a" \
        "b.sock,proto=virtio-fs,role=master,subtree=/b" || return
    boot a a.sock famfs
    boot b b.sock famfs
    finish_vms a b
    stop_daemons
    [ $rc = 0 ] || return
    while read -r p; do bad "$p"; done < <(vm_subtree_misplaced)
    [ $rc = 0 ] && say "host: a's and b's creations are under a/ and b/ only"
    fsck_clean
}

T0=$SECONDS
failed=()
for S in "$@"; do
    rc=0
    echo "=== $S"
    "sc_$S" || true
    stop_daemons
    if [ $rc = 0 ]; then echo "=== $S: PASS"; else echo "=== $S: FAIL"; failed+=("$S"); fi
done
echo "virtio-fs real-guest tests: ${#failed[@]} failed of $# in $((SECONDS - T0)) s"
[ ${#failed[@]} = 0 ]

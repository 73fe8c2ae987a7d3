#!/bin/bash
# The window from a guest pmem device: Debian 6.12 guests whose
# virtio-famfs device offers no shared memory (a window=none socket, as
# cloud-hypervisor's --generic-vhost-user or a QEMU without vhost-user
# shared memory gives) and whose famfs device reaches them as a
# virtio-pmem device (QEMU virtio-pmem-pci on a memory-backend-file of the
# same device file, as cloud-hypervisor --pmem does).
#
#   tests/vm/run-pmem-tests.sh [SCENARIO...]
#
# Scenarios (default: all):
#   pmem   (the famfs device with ID 45: bound only once the module is
#          loaded with device_id=45, device_id=0 refused)
#          mount refused without pmem=, with the pmem device of another
#          file system and with one smaller than the device (messages
#          checked); mount with pmem=, mmap checksums
#          equal the host's, one GET_FMAP per file (guest and daemon
#          counters), PMD faults (fs_dax tracepoints), a write by mmap the
#          host reads back; the pmem device removed while a file is mapped
#          and another open (nd_pmem unbind: QEMU 11.1.2 cannot unplug
#          virtio-pmem), then the virtio device removed while the pmem
#          window is in use: SIGBUS and errors, clean umount and rmmod
#   share  two VMs at once on one daemon: a (master) writes a file through
#          its mapping, b (role=ro, pmem backend readonly=on) has every write
#          refused and sees a's data through its own mapping
# Knobs: VM_KEEP=1 keeps logs, and the tests/vm/lib.sh knobs.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TESTS=$ROOT/tests/vm/pmem
cd "$ROOT"
. tests/vm/lib.sh
vm_scenarios "pmem share" "" "$@" || exit 2
vm_daemon_setup virtio-famfs-pmem
OTHER=/dev/shm/virtio-famfs-pmem-other.$$.dev
SMALL=/dev/shm/virtio-famfs-pmem-small.$$.dev
vm_cleanup_file "$OTHER" "$SMALL"

gcc -O2 -Wall -static -o "$tmp/famfs_mmap_test" "$ROOT/tests/vm/guest/famfs_mmap_test.c"
gcc -O2 -Wall -Wextra -static -o "$tmp/famfs_hold" "$ROOT/tests/vm/guest/famfs_hold.c"
mapfile -t kos < <(vm_build_module guest-driver "$tmp/mod")
# The guest's pmem stack, in dependency order, before our module.
pmem_kos=()
for m in libnvdimm nd_btt nd_pmem nd_virtio virtio_pmem; do
    pmem_kos+=("$(vm_distro_kmod "$m")")
done

# Device memory for virtio-pmem: QEMU wants maxmem.
export VM_MAXMEM=8G

# pmem_dev ID FILE SIZE [readonly]: a virtio-pmem device on FILE.
pmem_dev() {
    local ro=
    [ "${4:-}" != readonly ] || ro=,readonly=on
    echo "-object memory-backend-file,id=$1,mem-path=$2,size=$3,share=on$ro"
    echo "-device virtio-pmem-pci,memdev=$1"
}

# boot NAME SOCKET PMEM...: boot guest-NAME.sh with the famfs device on
# SOCKET (no shared memory regions) and the given pmem_dev lines; the
# device's ID is $VIRTIO_ID (default the stand-in 6).
boot() {
    local name=$1 sock=$2; shift 2
    local -a pm=()
    vm_build_initramfs "$tmp/$name.cpio.gz" "$TESTS/guest-$name.sh" \
        "${pmem_kos[@]}" "${kos[@]}" "$tmp/famfs_mmap_test" "$tmp/famfs_hold" \
        "$TESTS/common.sh:/pmem/common.sh" "$ROOT/tests/vm/guest/removal.sh:/lib/removal.sh"
    # shellcheck disable=SC2206 # pmem_dev prints option words.
    for l in "$@"; do pm+=($l); done
    vm_start "$name" "$tmp/$name.cpio.gz" "$tmp/$name.log" \
        -chardev socket,id=fs0,path="$sock" \
        -device "vhost-user-test-device-pci,chardev=fs0,virtio-id=${VIRTIO_ID:-6},num_vqs=2,config_size=96" \
        "${pm[@]}"
}

start_daemon() {
    "$BIN" -v serve "$@" --control-socket "$tmp/ctl" >"$tmp/daemon.log" 2>&1 &
    daemon_pid=$!
    vm_register_pid "$daemon_pid"
}

stop_daemon() {
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
}

# status_of SOCKET FIELD: a socket's request count from `status`.
status_of() {
    awk -v s="$1" -v f="$2" '$1 == "socket" {cur = ($2 == s)}
        cur && $1 == "requests" {for (i = 2; i <= NF; i++) {split($i, kv, "="); if (kv[1] == f) print kv[2]}}' \
        "$tmp/status"
}

show() { tr -d '\r' <"$tmp/$1.log" | grep -a -E 'GUEST-CHECK|GUEST-MD5|famfs|pmem|^(ro|pmem-unbind|virtio-unbind): |checksum' || true; }

fresh_fs() {
    rm -f "$VHOST_FAMFS_DEVICE" "$OTHER" "$SMALL"
    "$BIN" mkfs --size 1G >/dev/null
    "$BIN" creat -s 64M -S 7 f
    "$BIN" creat -s 64M -S 5 w
    "$BIN" mkdir sub
    "$BIN" creat -s 4M -S 3 sub/g
    # Another famfs (another fs_uuid) for the refusal.
    VHOST_FAMFS_DEVICE=$OTHER "$BIN" mkfs --size 2G >/dev/null
    # A blank device smaller than the file system, for the size check.
    truncate -s 512M "$SMALL"
}

scenario() {
    local s=$1 rc=0 want got f
    echo "=== scenario $s"
    fresh_fs
    case $s in
        pmem)
            # entry-fmap=off: every map is a GET_FMAP, so the count below
            # shows each file's map fetched once (inline maps: driver
            # scenario plus).
            start_daemon -s "$tmp/a.sock,role=master,window=none,entry-fmap=off"
            vm_wait_socket "$tmp/a.sock" 10
            # Another ID than the stand-in: the module's device_id=.
            VIRTIO_ID=45 boot pmem "$tmp/a.sock" "$(pmem_dev pm0 "$VHOST_FAMFS_DEVICE" 1G)" \
                "$(pmem_dev pm1 "$OTHER" 2G)" "$(pmem_dev pm2 "$SMALL" 512M)"
            vm_wait pmem 600 || rc=1
            show pmem
            "$BIN" status --control-socket "$tmp/ctl" >"$tmp/status" || rc=1
            sed 's/^/[status] /' "$tmp/status"
            grep -q 'mapped_bytes 0$' "$tmp/status" || { echo "a window was mapped"; rc=1; }
            grep -q 'window=none: serving metadata only' "$tmp/daemon.log" ||
                { echo "daemon log: no window=none line"; rc=1; }
            ! grep -q 'window mapped' "$tmp/daemon.log" || { echo "daemon mapped a window"; rc=1; }
            # One GET_FMAP per file and mount, however often it is opened
            # or mapped: f, sub/g and w in the first mount, f and sub/g in
            # the second (after the pmem device came back).
            got=$(status_of "$tmp/a.sock" get_fmap)
            echo "daemon: get_fmap=$got"
            [ "$got" = 5 ] || { echo "get_fmap=$got, not 5"; rc=1; }
            for f in f sub/g; do
                want=$("$BIN" cat "$f" | md5sum | cut -d' ' -f1)
                got=$(tr -d '\r' <"$tmp/pmem.log" | awk -v f="$f" '$1 == "GUEST-MD5" && $3 == f {print $2}')
                [ "$want" = "$got" ] && echo "md5 $f: guest = host" || { echo "md5 $f: guest $got host $want"; rc=1; }
            done
            "$BIN" verify -S 9 w || rc=1
            "$BIN" verify -S 7 f || rc=1
            stop_daemon ;;
        share)
            start_daemon -s "$tmp/a.sock,role=master,window=none" \
                -s "$tmp/b.sock,role=ro,window=none"
            vm_wait_socket "$tmp/a.sock" 10
            vm_wait_socket "$tmp/b.sock" 10
            boot reader "$tmp/b.sock" "$(pmem_dev pm0 "$VHOST_FAMFS_DEVICE" 1G readonly)"
            # The writer starts once b has mounted and read w as it was.
            local n=0
            until tr -d '\r' <"$tmp/reader.log" | grep -aq '^GUEST-HOST: reader-ready$'; do
                n=$((n + 1))
                if [ $n -gt 3000 ] || ! kill -0 "${VM_PID[reader]}" 2>/dev/null; then
                    echo "reader never got ready"; rc=1; break
                fi
                sleep 0.1
            done
            boot writer "$tmp/a.sock" "$(pmem_dev pm0 "$VHOST_FAMFS_DEVICE" 1G)"
            vm_wait writer 600 || rc=1
            vm_wait reader 600 || rc=1
            show writer
            show reader
            "$BIN" verify -S 9 w || rc=1
            stop_daemon ;;
        *) echo "unknown scenario $s"; return 1 ;;
    esac
    echo "=== scenario $s: $([ $rc = 0 ] && echo PASS || echo FAIL)"
    return $rc
}

vm_run_scenarios run-pmem-tests scenario "${VM_SCENARIOS[@]}"

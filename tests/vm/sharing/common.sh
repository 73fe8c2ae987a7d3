# shellcheck shell=sh
# Helpers for the guest scripts of run-sharing-tests.sh (sourced by
# guest-main.sh; busybox sh). $VM is this VM's name (a or b).
#
# Coordination never sleeps for a fixed time: a VM waits for a flag in the
# control file ctl (2 MiB, made by the host before boot, mapped by every
# VM), written by the other VM or by the host (which writes the device file
# at ctl's offset), or the host waits for a "GUEST-HOST: <marker>" line in
# a VM's console log. Slot N of ctl is the 64 bytes at offset 64*N.
set -e
M=/mnt
STATS=/sys/kernel/debug/virtio_famfs/famfs/stats

fail() { echo "GUEST-CHECK: FAIL [$VM] $*"; exit 1; }
check() { echo "GUEST-CHECK: [$VM] $*"; }
marker() { echo "GUEST-HOST: $1"; }
stat_of() { sed -n "s/^$1 //p" "$STATS"; }
arg_or() { v=$(arg "$1"); echo "${v:-$2}"; }

# now_ms: uptime in milliseconds (/proc/uptime has two decimals).
now_ms() { read -r up _ </proc/uptime; echo $((${up%.*} * 1000 + 1${up#*.} * 10 - 1000)); }

mount_famfs() {
    mkdir -p $M
    mount -t famfs famfs $M || fail "mount"
    [ -e $M/ctl ] || fail "no control file ctl"
}

finish() {
    echo "--- stats [$VM]"
    cat "$STATS"
    # ERRORS_BASE: the errors a script caused on purpose (refused lookups).
    [ "$(stat_of req_errors)" = "${ERRORS_BASE:-0}" ] || [ "${ERRORS_OK:-}" = 1 ] ||
        fail "req_errors is $(stat_of req_errors), not ${ERRORS_BASE:-0}"
    umount $M || fail "umount"
    rmmod virtio_famfs || fail "rmmod"
    echo "GUEST-CHECK: [$VM] PASS"
}

# ctl_set SLOT TEXT / ctl_wait SLOT TEXT SECS
ctl_set() { famfs-tool write-at $M/ctl $(($1 * 64)) "$2" || fail "ctl_set $1 $2"; }
ctl_wait() { famfs-tool wait-at $M/ctl $(($1 * 64)) "$2" "${3:-120}" >/dev/null || fail "no '$2' in ctl slot $1 after ${3:-120} s"; }
ctl_is() { famfs-tool wait-at $M/ctl $(($1 * 64)) "$2" 0; }

# wait_listed DIR NAME SECS: poll ls until DIR lists NAME; prints the wait (ms).
wait_listed() {
    t0=$(now_ms)
    until ls "$1" 2>/dev/null | grep -qx "$2"; do
        [ $(($(now_ms) - t0)) -lt $(($3 * 1000)) ] || return 1
        sleep 0.02
    done
    echo $(($(now_ms) - t0))
}

# The virtio-famfs PCI device (virtio id 6 -> 1af4:1046) and its window BAR.
famfs_pci_dev() {
    for d in /sys/bus/pci/devices/*; do
        if [ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1046 ]; then
            echo "$d"; return 0
        fi
    done
    return 1
}
# bar_base BAR: physical address of BAR number BAR of the device.
bar_base() { d=$(famfs_pci_dev) || return 1; printf '%d' "$(sed -n "$(($1 + 1))p" "$d/resource" | cut -d' ' -f1)"; }
bar_size() {
    d=$(famfs_pci_dev) || return 1
    set -- $(sed -n "$(($1 + 1))p" "$d/resource")
    echo $(($2 - $1 + 1))
}

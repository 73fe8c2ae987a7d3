# Guest helpers (busybox sh) for the pmem/ guest scripts; in the guest at
# /pmem/common.sh.
M=/mnt
fail() { echo "GUEST-CHECK: FAIL $*"; dmesg | tail -n 20; exit 1; }

# mount_pmem0: mount the famfs at $M through /dev/pmem0, once that appears.
mount_pmem0() {
    n=600
    while [ ! -e /dev/pmem0 ]; do n=$((n - 1)); [ $n -gt 0 ] || fail "no /dev/pmem0"; sleep 0.1; done
    mkdir -p $M
    mount -t famfs -o pmem=/dev/pmem0 famfs $M || fail "mount"
}

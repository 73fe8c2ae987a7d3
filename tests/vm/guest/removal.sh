# Guest helpers (busybox sh) for the device-removal rounds of
# driver/guest-remove.sh and pmem/guest-pmem.sh: two processes hold files
# of the famfs at $M (f mapped, sub/g open) while a device goes away.
# The including script defines fail and M. In the guest at /lib/removal.sh.

# wait_for TEST SECONDS: poll a shell test every 0.1 s.
wait_for() {
    n=$(($2 * 10))
    while ! eval "$1"; do
        n=$((n - 1)); [ $n -gt 0 ] || return 1
        sleep 0.1
    done
}

# Start the two holders of round $1 and wait until both touched their file.
start_holders() {
    d=/tmp/$1
    mkdir -p $d
    famfs_hold map $M/f $d >$d/map.log 2>&1 &
    map_pid=$!
    famfs_hold open $M/sub/g $d >$d/open.log 2>&1 &
    open_pid=$!
    wait_for "[ -e $d/ready-map ] && [ -e $d/ready-open ]" 120 ||
        fail "$1: holders not ready: $(cat $d/*.log)"
}

# check_removed ROUND [CHECK]: after the removal of ROUND the holders and
# new accesses fail cleanly (CHECK ROUND, if given, checks more accesses)
# and the file system unmounts.
check_removed() {
    d=/tmp/$1
    touch $d/go
    wait $map_pid || fail "$1: mapped process: $(cat $d/map.log)"
    wait $open_pid || fail "$1: open process: $(cat $d/open.log)"
    sed "s/^/$1: /" $d/map.log $d/open.log
    if cat $M/f >/dev/null 2>/tmp/err; then fail "$1: open of f worked"; fi
    echo "$1: open: $(cat /tmp/err)"
    [ -z "${2:-}" ] || "$2" "$1"
    if famfs_mmap_test verify $M/f 7 >/tmp/err 2>&1; then fail "$1: mmap worked"; fi
    umount $M || fail "$1: umount"
    echo "GUEST-CHECK: PASS $1: SIGBUS for the mapping, errors for the rest, clean umount"
}

# shellcheck shell=sh
# Scenario faults, one daemon serving a (master) and b (client).
# 1. a and b both read s (4 MiB, seed 5, by the host) and write markers into
#    m (a at 0, b at 4096), round after round. After both did 2 rounds the
#    host kills b's QEMU (kill -9) and sets ctl slot 1 b-killed; a keeps
#    going for 3 more rounds, then creates c/ (the daemon still serves a).
# 2. a creates files c/f1, c/f2, ... (truncate -s 2M, fill with seed i) in
#    a loop; after c/f5 it asks the host to kill -9 the daemon. The next
#    request fails with EIO within request_timeout (3 s here), later ones
#    at once; s and m, already mapped, keep working.
# ctl slot 1: b-killed (host).
echo 3 >/sys/module/virtio_famfs/parameters/request_timeout
mount_famfs
round() { # N: one round of reads and writes
    famfs-tool verify $M/s 5 mmap >/dev/null || fail "verify s in round $1"
    famfs-tool write-at $M/m "$MOFF" "$VM-round-$1" || fail "write-at m"
    got=$(famfs-tool read-at $M/m "$MOFF" $((${#VM} + 7 + ${#1})))
    [ "$got" = "$VM-round-$1" ] || fail "m shows '$got', not $VM-round-$1"
}
mvm() { famfs-tool read-at $M/m "$1" 16 | tr -d '\000\n'; }
case $VM in
b)
    MOFF=4096
    n=0
    while :; do
        n=$((n + 1)); round $n
        [ $n != 2 ] || marker b-working
    done
    ;;
a)
    MOFF=0
    n=0; before=0; after=0
    while [ $after -lt 3 ]; do
        n=$((n + 1)); round $n
        [ $n != 2 ] || { marker a-working; b0=$(mvm 4096); }
        if [ $after -gt 0 ] || ctl_is 1 b-killed; then after=$((after + 1)); else before=$n; fi
    done
    check "$before rounds of reads and writes before b was killed, $after after; b's marker in m: '$b0' at a's round 2, '$(mvm 4096)' at the end"
    mkdir $M/c || fail "mkdir c after b died"
    check "the daemon still serves a after b's QEMU died"

    i=1
    while :; do
        t0=$(now_ms)
        if ! truncate -s 2M $M/c/f$i 2>/tmp/err; then what="create c/f$i"; break; fi
        t0=$(now_ms)
        if ! famfs-tool fill $M/c/f$i $i >/dev/null 2>/tmp/err; then what="fill c/f$i"; break; fi
        echo "GUEST-CREATED: c/f$i"
        [ $i != 5 ] || marker kill-daemon
        i=$((i + 1))
        [ $i -le 200 ] || fail "200 files created: the daemon was not killed"
    done
    t=$(($(now_ms) - t0))
    check "$what failed after $t ms: $(cat /tmp/err)"
    grep -q "I/O error\|Input/output error" /tmp/err || fail "$what: not EIO"
    [ $t -le 8000 ] || fail "$what took $t ms (request_timeout is 3 s)"
    t0=$(now_ms)
    if mkdir $M/z 2>/tmp/err; then fail "mkdir worked without a daemon"; fi
    if ls $M/nosuch 2>/dev/null; then fail "lookup worked without a daemon"; fi
    t=$(($(now_ms) - t0))
    check "then mkdir and lookup failed in $t ms: $(cat /tmp/err)"
    [ $t -le 1000 ] || fail "requests on a dead daemon took $t ms"
    round after-daemon
    famfs-tool verify $M/c/f1 1 mmap || fail "c/f1 (mapped before) unreadable"
    check "files mapped before the daemon died still read and write"
    ERRORS_OK=1
    ;;
esac
finish

# shellcheck shell=sh
# Scenarios one-daemon and two-daemons (sourced by guest-main.sh).
# a (role=master) creates x/data and fills it through mmap; b (role=client),
# mounted before the file existed, sees it appear without remounting and
# checks the bytes through mmap and read(2). Then b maps the file, tells a
# through the file itself, and watches its existing mapping until a's
# marker appears: the two VMs map the same memory.
# ctl slots: 0 b-mounted (b), 1 a-filled (a), 2 b-done (b).
# Data file: b writes B-MAPPED at 8192, a writes MARKER-FROM-A at 4096.
SEED=4242
case $VM in
a)
    mount_famfs
    ctl_wait 0 b-mounted
    t0=$(now_ms)
    mkdir $M/x || fail "mkdir x"
    truncate -s 8M $M/x/data || fail "create x/data"
    t1=$(now_ms)
    famfs-tool fill $M/x/data $SEED || fail "fill x/data"
    t2=$(now_ms)
    check "created x/data (8 MiB) in $((t1 - t0)) ms, filled it through mmap (seed $SEED) in $((t2 - t1)) ms"
    famfs-tool verify $M/x/data $SEED read || fail "verify x/data"
    ctl_set 1 a-filled
    famfs-tool wait-at $M/x/data 8192 B-MAPPED 120 || fail "b never reported its mapping"
    famfs-tool write-at $M/x/data 4096 MARKER-FROM-A || fail "write-at"
    check "wrote MARKER-FROM-A at offset 4096 through a's mapping"
    ctl_wait 2 b-done
    finish
    ;;
b)
    mount_famfs
    [ ! -e $M/x ] || fail "x exists before a created it"
    ls -l $M
    n0=$(stat_of notifications)
    ctl_set 0 b-mounted
    ms=$(wait_listed $M/x data 60) || fail "x/data did not appear in 60 s"
    check "x/data appeared after $ms ms without a remount ($(($(stat_of notifications) - n0)) notifications)"
    [ "$(stat -c %s $M/x/data)" = 8388608 ] || fail "x/data size $(stat -c %s $M/x/data)"
    ctl_wait 1 a-filled
    famfs-tool verify $M/x/data $SEED mmap || fail "verify by mmap"
    famfs-tool verify $M/x/data $SEED read || fail "verify by read(2)"
    famfs-tool watch $M/x/data 4096 MARKER-FROM-A 8192 B-MAPPED 120 || fail "watch"
    [ "$(famfs-tool read-at $M/x/data 4096 13)" = MARKER-FROM-A ] || fail "read-at"
    pread=$(dd if=$M/x/data bs=4096 skip=1 count=1 2>/dev/null | head -c 13)
    [ "$pread" = MARKER-FROM-A ] || fail "read(2) shows '$pread'"
    check "the marker is visible through b's mapping and read(2)"
    [ "$(stat_of notifications)" -gt "$n0" ] || fail "no notification counted"
    ctl_set 2 b-done
    finish
    ;;
esac

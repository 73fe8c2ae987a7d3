# shellcheck shell=sh
# Scenario isolation (and isolation-clients): both VMs' sockets have
# isolate=on and the VMs are booted with iomem=relaxed, so root reads the
# whole window BAR through /dev/mem. This VM's tenant tree is $T (a or b:
# f1, f2 with seeds S1, S2; churn/ with many small files); the other VM's
# tree holds other seeds. Checks, scanning every page of the BAR:
#  1. after reading its own files, data shows only in those files and ctl
#     (never the other tree's files, never the metadata), and at the start
#     of each of its own files;
#  2. after close + drop_caches (the driver sends FORGET) those files'
#     bytes are gone from the BAR; opened again, they read correctly;
#  3. churn (VM a): ROUNDS rounds of opening every file of churn/ and
#     dropping the caches; the host counts the daemon's live mappings and
#     the memory of the daemon and QEMU between churn-start and churn-done;
#  4. (VM b, hold=1) holding every file of churn/ open, more than the
#     daemon's bound: the opens past it fail with ENOSPC, and after closing
#     and forgetting them a file opens again.
# ctl slot 0: go (host, after the scans of both VMs).
T=$(arg tenant)
S1=$(arg s1)
S2=$(arg s2)
R1=$(arg r1)
R2=$(arg r2)
CTLR=$(arg ctl)
F1=$(arg f1)
ROUNDS=$(arg_or rounds 0)
mount_famfs
d=$(famfs_pci_dev) || fail "no 1af4:1046 device"
base=$(bar_base 4)
size=$(bar_size 4)
check "window: BAR 4 of $d at $(printf %#x "$base"), $((size >> 20)) MiB; own files at $R1 $R2"

# scan WHAT SPEC: every page of the BAR; data only where SPEC allows.
scan() {
    out=$(famfs-tool bar-scan /dev/mem "$base" "$size" "$2") || { echo "$out"; fail "$1"; }
    check "$1: ${out##*: }"
}
# gone OFFSET SECS: until the page at window OFFSET reads as a hole.
gone() {
    t0=$(now_ms)
    until famfs-tool bar-scan /dev/mem $((base + $1)) 4096 "" >/dev/null; do
        [ $(($(now_ms) - t0)) -lt $(($2 * 1000)) ] || return 1
        sleep 0.05
    done
    echo $(($(now_ms) - t0))
}
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }

famfs-tool verify $M/$T/f1 "$S1" mmap || fail "verify f1"
famfs-tool verify $M/$T/f2 "$S2" read || fail "verify f2"
scan "own files read, BAR scanned" "$R1,$R2,$CTLR"
marker scanned-$VM
ctl_wait 0 go

drop
ms=$(gone "$F1" 30) || fail "f1 still readable through the BAR 30 s after drop_caches"
check "f1 unmapped $ms ms after drop_caches (FORGET)"
scan "after close, drop_caches and FORGET" "$CTLR"
famfs-tool verify $M/$T/f1 "$S1" mmap || fail "verify f1 again"
scan "f1 opened again (f2 not)" "$R1,$CTLR"
check "f1 reads correctly after FORGET and a new GET_FMAP"

if [ "$(arg hold)" = 1 ]; then
    # More files than the daemon maps at once, all held open: the opens
    # past the bound fail with ENOSPC; once closed and forgotten, the
    # mappings are free again.
    out=$(famfs-tool hold-all $M/$T/churn) || fail "hold-all: $out"
    check "$out"
    set -- $out
    [ "$3" -ge 200 ] && [ "$3" -le 256 ] && [ "${out##*: }" = ENOSPC ] || fail "expected ENOSPC after 200..256 files"
    ERRORS_OK=1     # the refused GET_FMAP counts as a request error
    drop
    famfs-tool verify $M/$T/f2 "$S2" mmap || fail "verify f2 after the bound"
fi

if [ "$ROUNDS" -gt 0 ]; then
    drop
    marker churn-start
    wait_listed $M go-churn 120 >/dev/null || fail "no go-churn"
    n=$(ls $M/$T/churn | wc -l)
    t0=$(now_ms)
    r=0
    while [ $r -lt "$ROUNDS" ]; do
        out=$(famfs-tool touch-all $M/$T/churn) || fail "touch-all round $r: $out"
        [ $r != 0 ] || check "churn round 0: $out"
        drop
        r=$((r + 1))
    done
    check "churn: $((ROUNDS * n)) files opened and forgotten in $(($(now_ms) - t0)) ms"
    marker churn-done
    wait_listed $M counted 120 >/dev/null || fail "no counted"
fi
finish

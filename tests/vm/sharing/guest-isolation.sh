# shellcheck shell=sh
# Scenario isolation (and isolation-clients, isolation-swap): each VM's
# socket exports its tenant's tree (subtree=/a or /b) with isolate=on, and
# the VMs are booted with iomem=relaxed, so root reads the whole window
# BAR through /dev/mem. This VM's tree $T (a or b) is its mount's root:
# ctl, f1 and f2 with seeds S1, S2, only-$T, churn/ with FILES small
# files; the other tree holds the same names with other seeds, only-$O,
# and more or fewer churn files. Checks:
#  0. find shows exactly this tree; no guessed path of the other tenant's
#     (its directory, its only-$O, a churn file only it has) resolves;
#  1. scanning every page of the BAR after reading its own files: data
#     shows only in those files and its ctl (never the other tree's files,
#     the root's ctl or the metadata), and at the start of each own file;
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
[ "$T" = a ] && O=b || O=a
FILES=$(arg files)
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

# 0. Only this tenant's tree, whatever a guest guesses.
want="$M
$M/churn
$M/ctl
$M/f1
$M/f2
$M/only-$T"
got=$(find $M | grep -v "^$M/churn/[0-9]*\$" | sort)
[ "$got" = "$want" ] || fail "find shows: $(echo $got)"
n=$(find $M/churn -type f | wc -l)
[ "$n" = "$FILES" ] || fail "find shows $n churn files, not $FILES"
check "find: $(echo $got) and $n churn files"
l0=$(stat_of req_lookup)
for p in $O $O/f1 $O/only-$O $O/ctl only-$O churn/$((FILES + 1)) churn/300 ../$O; do
    [ "$p" = churn/300 ] && [ "$FILES" -ge 300 ] && continue
    if stat $M/$p >/dev/null 2>&1 || cat $M/$p >/dev/null 2>&1; then fail "$M/$p resolves"; fi
done
[ "$(stat -c %i $M/..)" = "$(stat -c %i /)" ] || fail "$M/.. is not /"
check "no path of tenant $O's tree resolves ($(($(stat_of req_lookup) - l0)) LOOKUPs, all ENOENT)"
# Should a driver count those ENOENT replies as errors, later ones still count.
ERRORS_BASE=$(stat_of req_errors)

famfs-tool verify $M/f1 "$S1" mmap || fail "verify f1"
famfs-tool verify $M/f2 "$S2" read || fail "verify f2"
scan "own files read, BAR scanned" "$R1,$R2,$CTLR"
marker scanned-$VM
ctl_wait 0 go

drop
ms=$(gone "$F1" 30) || fail "f1 still readable through the BAR 30 s after drop_caches"
check "f1 unmapped $ms ms after drop_caches (FORGET)"
scan "after close, drop_caches and FORGET" "$CTLR"
famfs-tool verify $M/f1 "$S1" mmap || fail "verify f1 again"
scan "f1 opened again (f2 not)" "$R1,$CTLR"
check "f1 reads correctly after FORGET and a new GET_FMAP"

if [ "$(arg hold)" = 1 ]; then
    # More files than the daemon maps at once, all held open: the opens
    # past the bound fail with ENOSPC; once closed and forgotten, the
    # mappings are free again.
    out=$(famfs-tool hold-all $M/churn) || fail "hold-all: $out"
    check "$out"
    set -- $out
    [ "$3" -ge 200 ] && [ "$3" -le 256 ] && [ "${out##*: }" = ENOSPC ] || fail "expected ENOSPC after 200..256 files"
    ERRORS_OK=1     # the refused GET_FMAP counts as a request error
    drop
    famfs-tool verify $M/f2 "$S2" mmap || fail "verify f2 after the bound"
fi

if [ "$ROUNDS" -gt 0 ]; then
    drop
    marker churn-start
    wait_listed $M go-churn 120 >/dev/null || fail "no go-churn"
    n=$(ls $M/churn | wc -l)
    t0=$(now_ms)
    r=0
    while [ $r -lt "$ROUNDS" ]; do
        out=$(famfs-tool touch-all $M/churn) || fail "touch-all round $r: $out"
        [ $r != 0 ] || check "churn round 0: $out"
        drop
        r=$((r + 1))
    done
    check "churn: $((ROUNDS * n)) files opened and forgotten in $(($(now_ms) - t0)) ms"
    marker churn-done
    wait_listed $M counted 120 >/dev/null || fail "no counted"
fi
finish

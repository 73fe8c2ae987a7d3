# shellcheck shell=sh
# Scenario pending-name (both VMs masters): a opens x with O_CREAT and
# keeps it open without giving it a size, so x exists only in a; then b
# creates x on the device (truncate -s 2M). a must then see b's x, not
# its own empty one, and its own can no longer be created (EEXIST).
# ctl slots: 0 a-holds (a), 1 b-created (b), 2 a-done (a).
mount_famfs
case $VM in
a)
    exec 3<>$M/x
    [ "$(stat -c %s $M/x)" = 0 ] || fail "new x is not empty"
    ctl_set 0 a-holds
    ctl_wait 1 b-created
    t0=$(now_ms)
    until [ "$(stat -c %s $M/x)" = 2097152 ]; do
        [ $(($(now_ms) - t0)) -lt 30000 ] || fail "x still shows size $(stat -c %s $M/x) after 30 s"
        sleep 0.02
    done
    check "sees b's x (2 MiB) $(($(now_ms) - t0)) ms after b created it"
    [ "$(ls $M | grep -cx x)" = 1 ] || fail "x listed $(ls $M | grep -cx x) times"
    # Our own x, still open: giving it a size would create a second x.
    if truncate -s 4M /proc/self/fd/3 2>/tmp/err; then fail "created a second x"; fi
    check "sizing a's own x fails: $(cat /tmp/err)"
    ERRORS_OK=1	# that CREATE's EEXIST counts in req_errors
    exec 3>&-
    [ "$(stat -c %s $M/x)" = 2097152 ] || fail "x after close"
    ctl_set 2 a-done
    ;;
b)
    ctl_wait 0 a-holds
    [ -e $M/x ] && fail "b sees a's pending x"
    truncate -s 2M $M/x || fail "create x"
    ctl_set 1 b-created
    ctl_wait 2 a-done
    [ "$(stat -c %s $M/x)" = 2097152 ] || fail "x in b"
    ;;
esac
finish

# shellcheck shell=sh
# Scenario concurrent-creators: a (master) creates COUNT files a/f1..
# (truncate -s 2M) while the host CLI creates COUNT files h/f1..; b (client)
# is mounted all along. Afterwards both VMs list every file.
# ctl slots: 0 b-ready (b), 1 all-done (host, after its loop, a's and fsck).
COUNT=$(arg_or count 200)
mount_famfs
case $VM in
a)
    mkdir $M/a || fail "mkdir a"
    ctl_wait 0 b-ready
    marker start
    t0=$(now_ms)
    i=1
    while [ $i -le "$COUNT" ]; do
        truncate -s 2M $M/a/f$i || fail "create a/f$i"
        i=$((i + 1))
    done
    check "created $COUNT files in $(($(now_ms) - t0)) ms"
    marker a-done
    ;;
b)
    ls -l $M
    ctl_set 0 b-ready
    ;;
esac
ctl_wait 1 all-done 600
na=$(ls $M/a | wc -l); nh=$(ls $M/h | wc -l)
check "lists $na files in a/ and $nh in h/"
[ "$na" = "$COUNT" ] && [ "$nh" = "$COUNT" ] || fail "expected $COUNT in each"
bytes=$(ls -l $M/a $M/h | awk '$5 == 2097152 {n++} END {print n + 0}')
[ "$bytes" = $((2 * COUNT)) ] || fail "$bytes files of 2 MiB, not $((2 * COUNT))"
finish

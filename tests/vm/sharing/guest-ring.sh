# shellcheck shell=sh
# Scenario ring: a produces COUNT messages into the ring in file ring, b
# consumes and checks them (sequence number and checksum of each: nothing
# lost, duplicated or corrupted). ctl slot 0: b-ready (b has mapped it).
COUNT=$(arg_or count 20000)
mount_famfs
case $VM in
a)
    ctl_wait 0 b-ready
    t0=$(now_ms)
    famfs-tool produce $M/ring "$COUNT" || fail "produce"
    check "produced $COUNT messages in $(($(now_ms) - t0)) ms"
    ;;
b)
    ctl_set 0 b-ready
    t0=$(now_ms)
    out=$(famfs-tool consume $M/ring "$COUNT") || fail "consume: $out"
    echo "$out"
    [ "$out" = "consume: $COUNT messages, 0 bad" ] || fail "consume: $out"
    check "consumed $COUNT messages in $(($(now_ms) - t0)) ms, 0 bad"
    ;;
esac
finish

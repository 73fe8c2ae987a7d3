# shellcheck shell=sh
# Two VMs, default cache policy: a (master) writes into a file b (client)
# has already read; b sees the new bytes without remounting.
mount_virtiofs
if [ "$VM" = a ]; then
    wait_bytes $M/ctl 0 go 240 || fail "no go from the host"
    printf 'NEW-BYTES-FROM-A' | dd of=$M/shared bs=1 seek=4096 conv=notrunc status=none ||
        fail "write shared"
    truncate -s 2M $M/from-a || fail "create from-a"
    famfs-tool fill $M/from-a 41 || fail "fill from-a"
    # Tell b that from-a is complete, through the shared file ctl.
    printf filled | dd of=$M/ctl bs=1 seek=64 conv=notrunc status=none || fail "ctl"
    marker a-wrote
else
    old=$(dd if=$M/shared bs=1 skip=4096 count=16 status=none | od -An -tx1 | tr -d ' \n')
    [ "$old" = 00000000000000000000000000000000 ] || fail "shared starts as $old"
    # Map it too: the mapping must see the new bytes after a new mmap.
    famfs-tool read-at $M/shared 4096 16 >/dev/null || fail "mmap shared"
    marker b-read-old
    wait_bytes $M/shared 4096 NEW-BYTES-FROM-A 240 || fail "a's bytes never seen by read(2)"
    check "b sees a's write by read(2)"
    [ "$(famfs-tool read-at $M/shared 4096 16)" = NEW-BYTES-FROM-A ] || fail "mmap: $(famfs-tool read-at $M/shared 4096 16)"
    check "b sees a's write by mmap"
    wait_bytes $M/ctl 64 filled 240 || fail "a never said from-a is filled"
    [ -e $M/from-a ] || fail "from-a not visible"
    famfs-tool verify $M/from-a 41 read || fail "verify from-a"
    check "b sees a's new file"
fi

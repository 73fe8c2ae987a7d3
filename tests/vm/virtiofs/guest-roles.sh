# shellcheck shell=sh
# A client socket writes existing data only; a ro socket nothing. Each VM
# has a file of its own (f: client, g: ro), as both run at once.
mount_virtiofs
if [ "$VM" = client ]; then
    famfs-tool verify $M/f 3 read || fail "verify f"
else
    famfs-tool verify $M/g 4 read || fail "verify g"
fi
refused "Read-only file system" touch $M/x
refused "Read-only file system" mkdir $M/d
refused "Read-only file system" truncate -s 2M $M/x
if [ "$VM" = client ]; then
    printf 'client' | dd of=$M/f conv=notrunc status=none || fail "client write to f"
    [ "$(head -c 6 $M/f)" = client ] || fail "client write not read back"
    check "client wrote existing data"
else
    refused "Read-only file system" sh -c "printf ro | dd of=$M/g conv=notrunc status=none"
    famfs-tool try-write $M/g
    famfs-tool try-write $M/g | grep -q 'open O_RDWR: Read-only file system' || fail "open O_RDWR allowed"
    famfs-tool verify $M/g 4 read || fail "g changed"
fi

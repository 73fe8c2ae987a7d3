# shellcheck shell=sh
# Scenario metadata-safe: both VMs are booted with iomem=relaxed, so root
# can map the whole window BAR through /dev/mem. Window offsets
# 0 .. meta_size (superblock and log) are never mapped by the daemon: each
# VM reads that range (nothing of the metadata may show), fills it with a
# byte and writes fake superblock and log bytes, and reads again. The host
# then checks that its superblock and log did not change and fsck is clean;
# afterwards a creates a file and b sees it (the metadata path still works).
# A BAR write just past the metadata (into ctl) shows in the file: the
# BAR and offsets are the right ones.
# ctl slots: 0 checked (host), 1 created (a).
META=$(arg meta)
mount_famfs
d=$(famfs_pci_dev) || fail "no 1af4:1046 device"
base=$(bar_base 4)
check "window: BAR 4 of $d at $(printf %#x "$base"), metadata 0..$(printf %#x "$META")"
# scan WHAT OFFSET LEN: nothing but 0x00/0xff may be read there.
scan() {
    out=$(famfs-tool bar-read /dev/mem $((base + $2)) "$3") || fail "bar-read: $out"
    echo "$out"
    set -- $(echo "$out" | sed 's/.*: \([0-9]*\) zero, \([0-9]*\) 0xff.*/\1 \2/') "$3" "$1"
    [ $(($1 + $2)) = "$3" ] || fail "$4: $(($3 - $1 - $2)) bytes other than 0x00/0xff read"
}
scan "superblock and log" 0 "$META"
case $VM in a) byte=0x5a ;; *) byte=0xa5 ;; esac
famfs-tool bar-fill /dev/mem "$base" "$META" $byte || fail "bar-fill"
famfs-tool bar-write /dev/mem "$base" "FAKE-SUPERBLOCK-$VM" || fail "bar-write"
famfs-tool bar-write /dev/mem $((base + 2097152)) "FAKE-LOG-ENTRY-$VM" || fail "bar-write"
famfs-tool bar-write /dev/mem $((base + META - 16)) "FAKE-LOG-END-$VM" || fail "bar-write"
scan "superblock and log after writing" 0 "$META"
# The same BAR does reach the data area: just past the metadata is the
# first file, ctl; a BAR write into its unused second MiB shows in the file.
case $VM in a) p=1048576 ;; *) p=1048640 ;; esac
famfs-tool bar-write /dev/mem $((base + META + p)) "BAR-PROBE-$VM" || fail "bar-write probe"
[ "$(famfs-tool read-at $M/ctl $p 11)" = "BAR-PROBE-$VM" ] || fail "BAR write at ctl+$p not in ctl"
check "read and wrote window offsets 0..$(printf %#x "$META") through the BAR: nothing read, nothing kept"
marker attacked-$VM
ctl_wait 0 checked
case $VM in
a)
    truncate -s 2M $M/after || fail "create after"
    famfs-tool fill $M/after 99 || fail "fill after"
    ctl_set 1 created
    ;;
b)
    ms=$(wait_listed $M after 60) || fail "after did not appear"
    ctl_wait 1 created
    famfs-tool verify $M/after 99 mmap || fail "verify after"
    check "after appeared ($ms ms) and holds seed 99"
    ;;
esac
finish

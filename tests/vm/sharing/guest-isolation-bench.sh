# shellcheck shell=sh
# Scenario isolation-bench: one VM with two virtio-famfs devices on the
# same device file, tag iso (isolate=on) mounted at /mnt and tag whole
# (isolate off) at /mnt2. Each round drops the caches and times the first
# open + map + touch of every file of a/churn through each mount, in
# alternating order; famfs-tool prints the median per file.
ROUNDS=$(arg_or rounds 5)
M2=/mnt2
mkdir -p $M $M2
mount -t famfs iso $M || fail "mount iso"
mount -t famfs whole $M2 || fail "mount whole"
r=0
while [ $r -lt "$ROUNDS" ]; do
    for m in $M $M2; do
        [ $((r % 2)) = 0 ] || m=$([ $m = $M ] && echo $M2 || echo $M)
        sync; echo 3 >/proc/sys/vm/drop_caches
        out=$(famfs-tool touch-all $m/a/churn) || fail "touch-all $m: $out"
        echo "bench round $r $([ $m = $M ] && echo isolated || echo whole): $out"
    done
    r=$((r + 1))
done
umount $M2 || fail "umount whole"
STATS=/sys/kernel/debug/virtio_famfs/iso/stats
finish

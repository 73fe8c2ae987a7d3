#!/bin/sh
# Guest side of run-dax-tests.sh bench: one boot, the same 256 MiB file
# behind each front door (mod: virtio-famfs and our module; dax: virtio-fs
# with a DAX window; copy: virtio-fs copy mode; vfsd: virtiofsd serving a
# host directory, when present). famfs-tool bench sums the file through a
# fresh mapping and 256 MiB of anonymous memory in the same process.
STATS=/sys/kernel/debug/virtio_famfs/famfs/stats
mkdir -p /mnt/mod /mnt/dax /mnt/copy /mnt/vfsd
mount -t famfs famfs /mnt/mod || echo "GUEST-CHECK FAILED: mount mod"
mount -t virtiofs dax /mnt/dax -o dax=always || echo "GUEST-CHECK FAILED: mount dax"
mount -t virtiofs copy /mnt/copy || echo "GUEST-CHECK FAILED: mount copy"
doors="mod dax copy"
if mount -t virtiofs vfsd /mnt/vfsd; then doors="$doors vfsd"; fi
grep -E 'famfs|virtiofs' /proc/mounts
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# How the mmap passes fault: 2 MiB (PMD) DAX faults or fallbacks to 4 KiB.
T=/sys/kernel/debug/tracing
echo 1 >$T/events/fs_dax/dax_pmd_fault_done/enable 2>/dev/null
echo 1 >$T/events/fs_dax/dax_pte_fault_done/enable 2>/dev/null
echo 16384 >$T/buffer_size_kb 2>/dev/null
up() { cut -d' ' -f1 /proc/uptime; }
for d in $doors; do
    req0=$(sed -n 's/^req_total //p' $STATS)
    echo >$T/trace
    for i in 1 2 3 4 5; do
        drop
        # First pass: nothing of the file mapped or cached yet.
        echo "GUEST-BENCH $d first $(famfs-tool bench /mnt/$d/big)"
        # Second pass: what the first left mapped or cached.
        echo "GUEST-BENCH $d second $(famfs-tool bench /mnt/$d/big)"
    done
    echo "GUEST-BENCH $d faults pmd-nopage $(grep -c 'dax_pmd_fault_done.*NOPAGE' $T/trace)" \
        "pmd-fallback $(grep -c 'dax_pmd_fault_done.*FALLBACK' $T/trace)" \
        "pte $(grep -c dax_pte_fault_done $T/trace)"
    for i in 1 2 3 4 5; do
        drop
        # busybox dd reports no rate; /proc/uptime has 10 ms resolution.
        t0=$(up)
        dd if=/mnt/$d/big of=/dev/null bs=1M 2>/dev/null
        t1=$(up)
        n=$(stat -c %s /mnt/$d/big)
        echo "GUEST-BENCH $d read $n bytes copied, $(awk "BEGIN { print $t1 - $t0 }") seconds"
    done
    [ $d != mod ] || echo "GUEST-BENCH mod requests-mmap-read $(($(sed -n 's/^req_total //p' $STATS) - req0))"
    for i in 1 2 3; do
        drop
        req0=$(sed -n 's/^req_total //p' $STATS)
        # The host snapshots the daemon's request counters at these
        # markers (virtio-fs doors); the sleeps give it time to.
        [ $d = mod ] || { echo "GUEST-HOST: open10k-start $d $i"; sleep 2; }
        t0=$(up)
        n=$(cat /mnt/$d/small/* | wc -c)
        t1=$(up)
        [ $d = mod ] || { echo "GUEST-HOST: open10k-end $d $i"; sleep 2; }
        echo "GUEST-BENCH $d open10k $(awk "BEGIN { print $t1 - $t0 }") s ($n bytes)"
        [ $d != mod ] || echo "GUEST-BENCH mod requests-open10k $(($(sed -n 's/^req_total //p' $STATS) - req0))"
    done
    umount /mnt/$d
    echo "GUEST-HOST: unmounted $d"
done
echo "GUEST-CHECK ok: bench done"

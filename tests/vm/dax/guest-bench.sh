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
up() { cut -d' ' -f1 /proc/uptime; }
for d in $doors; do
    req0=$(sed -n 's/^req_total //p' $STATS)
    for i in 1 2 3 4 5; do
        drop
        # First pass: nothing of the file mapped or cached yet.
        echo "GUEST-BENCH $d first $(famfs-tool bench /mnt/$d/big)"
        # Second pass: what the first left mapped or cached.
        echo "GUEST-BENCH $d second $(famfs-tool bench /mnt/$d/big)"
    done
    for i in 1 2 3 4 5; do
        drop
        echo "GUEST-BENCH $d read $(dd if=/mnt/$d/big of=/dev/null bs=1M 2>&1 | tail -n1)"
    done
    [ $d != mod ] || echo "GUEST-BENCH mod requests-mmap-read $(($(sed -n 's/^req_total //p' $STATS) - req0))"
    for i in 1 2 3; do
        drop
        req0=$(sed -n 's/^req_total //p' $STATS)
        t0=$(up)
        n=$(cat /mnt/$d/small/* | wc -c)
        t1=$(up)
        echo "GUEST-BENCH $d open10k $(awk "BEGIN { print $t1 - $t0 }") s ($n bytes)"
        [ $d != mod ] || echo "GUEST-BENCH mod requests-open10k $(($(sed -n 's/^req_total //p' $STATS) - req0))"
    done
    umount /mnt/$d
    echo "GUEST-HOST: unmounted $d"
done
echo "GUEST-CHECK ok: bench done"

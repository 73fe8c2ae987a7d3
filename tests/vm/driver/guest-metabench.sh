#!/bin/sh
# Guest side of run-driver-tests.sh metabench: the same 10,000 files of
# 4 KiB in one directory (small/) behind three doors: "on" (virtio-famfs,
# READDIRPLUS and inline maps), "off" (the same device, a socket offering
# neither: the baseline) and, when present, "vfsd" (virtiofsd serving a
# host directory). Each round mounts each door afresh and walks small/:
# list (readdir), stat (readdir + lstat of every name), mmap (readdir +
# lstat + open, mmap, read of every file), then warm (the mmap walk again
# on the same mount). Around each step the guest prints a marker and
# waits, so that the host can snapshot the server's request counters.
mkdir -p /mnt/on /mnt/off /mnt/vfsd
doors="on off"
if mount -t virtiofs vfsd /mnt/vfsd 2>/dev/null; then
    umount /mnt/vfsd
    doors="$doors vfsd"
fi
mark() { echo "GUEST-HOST: meta $*"; sleep 1; }
for round in 1 2 3; do
    for d in $doors; do
        sync; echo 3 >/proc/sys/vm/drop_caches
        case $d in
            on) mount -t famfs famfs /mnt/on ;;
            off) mount -t famfs famoff /mnt/off ;;
            vfsd) mount -t virtiofs vfsd /mnt/vfsd ;;
        esac || { echo "GUEST-CHECK: FAIL mount $d"; exit 1; }
        for step in list stat mmap warm; do
            mode=$step
            [ $step != warm ] || mode=mmap
            mark "$d $round $step start"
            out=$(famfs-tool walk /mnt/$d/small $mode) ||
                { echo "GUEST-CHECK: FAIL walk $d $step"; exit 1; }
            mark "$d $round $step end"
            # "walk MODE DIR: N entries, M files mapped, sum S, T s"
            echo "GUEST-META $d $round $step $out"
        done
        umount /mnt/$d
    done
done
echo "GUEST-CHECK: PASS"

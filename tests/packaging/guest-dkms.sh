#!/bin/sh
# Runs inside the guest with the virtio_famfs.ko that DKMS built from the
# virtio-famfs-dkms package (tests/packaging/run.sh), and that package's
# famfs-guest. The host made f (3 MiB, seed 5).
set -e
fail() { echo "GUEST-CHECK: FAIL $*"; exit 1; }

# The loaded module's GNU build id note ends with the DKMS build's id.
want=$(cat /etc/dkms-build-id)
have=$(od -An -tx1 -v /sys/module/virtio_famfs/notes/.note.gnu.build-id | tr -d ' \n')
[ ${#want} = 40 ] || fail "no build id given"
case $have in *"$want") ;; *) fail "loaded module $have is not the DKMS build $want" ;; esac
mkdir -p /mnt
mount -t famfs famfs /mnt || fail "mount"
famfs-guest creat -s 3M -S 5 /tmp/ref || fail "famfs-guest creat"
cmp /tmp/ref /mnt/f || fail "f differs from the host's pattern"
famfs-guest getmap /mnt/f || fail "getmap"
umount /mnt || fail "umount"
rmmod virtio_famfs || fail "rmmod"
echo "GUEST-CHECK: PASS (DKMS module, build id $want)"

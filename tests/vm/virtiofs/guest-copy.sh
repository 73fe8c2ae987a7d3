# shellcheck shell=sh
# Copy mode, master socket: listing, df, data by read(2) and mmap,
# creating by truncate + mmap/write(2), mkdir, famfs's refusals.
mount_virtiofs
# Listing and attributes, for the host to compare with its `ls -l`.
for p in $M/* $M/d/*; do
    n=${p#$M/}
    [ -d "$p" ] && n=$n/
    echo "GUEST-LS: $(stat -c '%A %u %g %s %i' "$p") $n"
done
[ ! -e $M/.meta ] || fail ".meta is visible"
echo "GUEST-DF: $(df -k $M | awk 'NR == 2 {print $2, $4}')"
# Data: the seeded pattern through read(2) and through mmap, and the md5
# of what read(2) returns.
famfs-tool verify $M/big "$(arg seed)" read || fail "verify big by read(2)"
famfs-tool verify $M/big "$(arg seed)" mmap || fail "verify big by mmap"
echo "GUEST-MD5: $(md5sum $M/big | cut -d' ' -f1)"
check "big verified by read(2) and mmap"
# Create: O_CREAT gives size 0; ftruncate sizes it once; fill by mmap.
truncate -s 4M $M/new || fail "truncate -s 4M new"
[ "$(stat -c %s $M/new)" = 4194304 ] || fail "new is $(stat -c %s $M/new) bytes"
famfs-tool fill $M/new 23 || fail "fill new by mmap"
famfs-tool verify $M/new 23 read || fail "verify new"
# ... and by write(2).
truncate -s 1M $M/new2 || fail "truncate new2"
dd if=$M/big of=$M/new2 bs=64k count=16 conv=notrunc status=none || fail "dd into new2"
cmp $M/new2 $M/big 2>&1 | grep -q 'EOF on' || fail "new2 differs from big"
if command -v fallocate >/dev/null; then
    fallocate -l 2M $M/new3 || fail "fallocate -l 2M new3"
    [ "$(stat -c %s $M/new3)" = 2097152 ] || fail "new3 is $(stat -c %s $M/new3) bytes"
fi
mkdir $M/sub || fail "mkdir sub"
mkdir $M/sub/deeper || fail "mkdir sub/deeper"
[ -d $M/sub/deeper ] || fail "no sub/deeper"
# famfs's rules.
refused "Operation not permitted" truncate -s 1M $M/big
refused "Operation not permitted" chmod 600 $M/big
refused "No space left" sh -c "echo data >$M/grow"
refused "Function not implemented" rm $M/big
refused "Function not implemented" mv $M/big $M/big2
[ "$(stat -c %s $M/big)" = "$(arg size)" ] || fail "big changed size"
# An unprivileged user: the mode bits hold (big is root's, 0644; the root
# directory root's, 0755).
echo 'user:x:1000:1000::/tmp:/bin/sh' >>/etc/passwd
echo 'user:x:1000:' >>/etc/group
chmod 755 / /bin /bin/busybox  # the initramfs root is made 0700
[ "$(su user -c "head -c 4 $M/d/x | wc -c")" = 4 ] || fail "user cannot read d/x"
refused "Permission denied" su user -c "printf x | dd of=$M/big conv=notrunc status=none"
refused "Permission denied" su user -c "touch $M/user-file"
sync
marker copy-done

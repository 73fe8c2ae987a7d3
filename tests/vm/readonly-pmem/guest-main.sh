# Guest side of run-readonly-pmem-tests.sh: write 4 KiB of 'Z' at 1 MiB
# into /dev/pmem0 with direct I/O (the pmem driver stores into the mapped
# memory with the CPU), read it back past the page cache, and say what
# came back. pmemtest=rw|ro on the kernel command line says what the host
# expects: rw must read back the 'Z's, ro the host's original bytes.
set -e
mode=$(sed -n 's/.*pmemtest=\([a-z]*\).*/\1/p' /proc/cmdline)
echo "GUEST: mode $mode"
for _ in $(seq 100); do [ -b /dev/pmem0 ] && break; sleep 0.1; done
[ -b /dev/pmem0 ] || { echo "GUEST: no /dev/pmem0"; exit 1; }
head -c 4096 /dev/zero | tr '\0' 'Z' >/tmp/z
head -c 4096 /dev/zero | tr '\0' '\253' >/tmp/orig
dd if=/dev/pmem0 of=/tmp/before bs=4096 skip=256 count=1 iflag=direct 2>/dev/null
cmp -s /tmp/before /tmp/orig || { echo "GUEST: /dev/pmem0 does not hold the host's bytes"; exit 1; }
if dd if=/tmp/z of=/dev/pmem0 bs=4096 seek=256 count=1 oflag=direct conv=notrunc 2>/dev/null; then
    echo "GUEST: write returned success"
else
    echo "GUEST: write failed"
fi
dd if=/dev/pmem0 of=/tmp/after bs=4096 skip=256 count=1 iflag=direct 2>/dev/null
if cmp -s /tmp/after /tmp/z; then echo "GUEST: read back the written bytes"
elif cmp -s /tmp/after /tmp/orig; then echo "GUEST: read back the original bytes"
else echo "GUEST: read back something else"; exit 1
fi

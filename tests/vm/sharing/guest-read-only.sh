# shellcheck shell=sh
# Scenario read-only: a is role=master, b is role=ro (booted with
# iomem=relaxed, so that root in b can map the window's BAR through
# /dev/mem). The host made f (4 MiB, seed 7) before boot and passes its
# device offset as famfs_test.off.
#   b: mounted read-only; every write path fails (EROFS or EACCES), also on
#      fromA, which a creates while b is mounted and b sees appear.
#   b: the forced path: writes RO-FORCED-WRITE at f + 4096 through the BAR
#      and reports what it reads back; the host checks the device file and
#      a reads f + 4096 through its own mapping.
#   a (booted without iomem=relaxed) reports whether /dev/mem maps the BAR.
# ctl slots (b cannot write, the host relays b's markers): 0 go (host: b
# mounted), 1 a-done (a: fromA filled), 2 forced (host: b wrote the BAR).
OFF=$(arg off)
mount_famfs
case $VM in
a)
    ctl_wait 0 go
    truncate -s 2M $M/fromA || fail "create fromA"
    famfs-tool fill $M/fromA 77 || fail "fill fromA"
    ctl_set 1 a-done
    check "created fromA (2 MiB, seed 77) while b was mounted read-only"
    # Without iomem=relaxed (a's kernel command line) the kernel refuses
    # /dev/mem on a range a driver holds (CONFIG_IO_STRICT_DEVMEM).
    base=$(bar_base 4)
    if out=$(famfs-tool bar-read /dev/mem $((base + OFF)) 16 2>&1); then
        echo "GUEST-FORCED: a (no iomem=relaxed) can map the BAR through /dev/mem: $out"
    else
        echo "GUEST-FORCED: a (no iomem=relaxed) cannot map the BAR through /dev/mem: $out"
    fi
    ctl_wait 2 forced
    seen=$(famfs-tool read-at $M/f 4096 15)
    echo "GUEST-FORCED: a reads f+4096 through its own mapping: '$seen'"
    ;;
b)
    grep -q " $M famfs ro" /proc/mounts || fail "not mounted read-only"
    marker b-mounted
    ms=$(wait_listed $M fromA 60) || fail "fromA did not appear"
    check "fromA appeared after $ms ms on the read-only mount"
    ctl_wait 1 a-done
    famfs-tool verify $M/f 7 mmap || fail "verify f"
    famfs-tool verify $M/fromA 77 mmap || fail "verify fromA by mmap"
    famfs-tool verify $M/fromA 77 read || fail "verify fromA by read"
    # expect_refused WHAT CMD...: CMD fails with EROFS or EACCES.
    expect_refused() {
        what=$1; shift
        if "$@" >/tmp/out 2>&1; then fail "$what worked: $(cat /tmp/out)"; fi
        case $(cat /tmp/out) in
        *"Read-only file system"*|*"Permission denied"*) check "refused: $what: $(tail -n1 /tmp/out)" ;;
        *) fail "$what: not EROFS/EACCES: $(cat /tmp/out)" ;;
        esac
    }
    for f in f fromA; do
        expect_refused "write(2) to $f" sh -c "echo x >> $M/$f"
        expect_refused "dd conv=notrunc into $f" dd if=/dev/zero of=$M/$f bs=4096 count=1 conv=notrunc
        expect_refused "truncate -s 8M $f" truncate -s 8M $M/$f
        expect_refused "fallocate $f" famfs_mmap_test fallocate $M/$f 4194304
        famfs-tool try-write $M/$f >/tmp/tw
        cat /tmp/tw
        grep -q '^try-write: open O_RDWR: Read-only file system$' /tmp/tw || fail "open O_RDWR of $f"
        grep -q '^try-write: shared writable mmap of an O_RDONLY fd: Permission denied$' /tmp/tw ||
            fail "shared writable mmap of $f"
        grep -q '^try-write: mprotect .*: Permission denied$' /tmp/tw || fail "mprotect of $f"
    done
    expect_refused "O_CREAT by redirection" sh -c ": > $M/new1"
    expect_refused "touch (O_CREAT)" touch $M/new2
    expect_refused "truncate -s 2M of a new file" truncate -s 2M $M/new3
    expect_refused "mkdir" mkdir $M/d
    expect_refused "cp into the mount" cp /bin/famfs-tool $M/
    mount -o remount,rw $M 2>/dev/null || true
    grep -q " $M famfs ro" /proc/mounts || fail "remounted read-write"
    [ ! -e $M/new1 ] && [ ! -e $M/new2 ] && [ ! -e $M/new3 ] && [ ! -e $M/d ] || fail "a refused name exists"
    [ "$(stat_of req_create)" = 0 ] && [ "$(stat_of req_mkdir)" = 0 ] || fail "a CREATE or MKDIR was sent"
    famfs-tool verify $M/f 7 mmap || fail "f changed"
    famfs-tool verify $M/fromA 77 read || fail "fromA changed"
    check "every guest-enforced write path is refused; f and fromA unchanged"

    # The forced path: root in b maps the window's BAR and writes.
    d=$(famfs_pci_dev) || fail "no 1af4:1046 device"
    base=$(bar_base 4); size=$(bar_size 4)
    check "window: BAR 4 of $d at $(printf %#x "$base"), $((size >> 20)) MiB; f at window offset $(printf %#x "$OFF")"
    if famfs-tool bar-read "$d/resource4" $((OFF + 4096)) 16 >/tmp/out 2>&1; then
        echo "GUEST-FORCED: sysfs resource4 mmap works: $(cat /tmp/out)"
    else
        echo "GUEST-FORCED: sysfs resource4 mmap refused: $(cat /tmp/out)"
        dmesg | grep 'x86/PAT' | tail -n1 || true
    fi
    # The BAR at f's offset shows f (sanity check of BAR and offset).
    want=$(dd if=$M/f bs=16 count=1 2>/dev/null | od -An -tx1 | tr -s ' \n' ' ')
    got=$(famfs-tool bar-read /dev/mem $((base + OFF)) 16 | sed 's/.*first://' | tr -s ' \n' ' ')
    [ "$want" = "$got" ] || fail "BAR at f's offset shows '$got', f starts with '$want'"
    out=$(famfs-tool bar-write /dev/mem $((base + OFF + 4096)) RO-FORCED-WRITE) || fail "bar-write: $out"
    echo "GUEST-FORCED: b (role=ro) $out"
    echo "GUEST-FORCED: b reads f+4096 through its read-only mount: '$(famfs-tool read-at $M/f 4096 15)'"
    marker forced-done
    ;;
esac
finish

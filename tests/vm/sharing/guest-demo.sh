# shellcheck shell=sh
# The guest side of scripts/demo.sh (sourced by guest-main.sh). vm-a
# (role=master) creates shared/hello.txt and writes a 32-byte message
# through its mapping; vm-b (role=client), mounted before the file existed,
# sees it appear without remounting and reads the message through its own
# mapping and through read(2). ctl slot 0: b-mounted (b).
MSG="hello from vm-a, shared via DAX!"
demo() { echo "GUEST-DEMO: $*"; }
mount_famfs
demo "mounted famfs ($(df -m $M | awk 'NR == 2 {print $2}') MiB, $(grep " $M " /proc/mounts | cut -d' ' -f4 | cut -d, -f1)) at $(cut -d' ' -f1 /proc/uptime) s after boot"
case $VM in
a)
    ctl_wait 0 b-mounted
    t0=$(now_ms)
    mkdir -p $M/shared
    truncate -s ${#MSG} $M/shared/hello.txt || fail "create shared/hello.txt"
    famfs-tool write-at $M/shared/hello.txt 0 "$MSG" || fail "write"
    demo "wrote shared/hello.txt (${#MSG} bytes, through mmap) in $(($(now_ms) - t0)) ms: \"$MSG\""
    ;;
b)
    ctl_set 0 b-mounted
    ms=$(wait_listed $M/shared hello.txt 60) || fail "shared/hello.txt did not appear"
    famfs-tool wait-at $M/shared/hello.txt 0 "$MSG" 60 >/dev/null || fail "the message did not arrive"
    demo "saw shared/hello.txt appear $ms ms after telling vm-a it was mounted (no remount)"
    demo "read the same ${#MSG} bytes through its own mapping: \"$(famfs-tool read-at $M/shared/hello.txt 0 ${#MSG})\""
    [ "$(cat $M/shared/hello.txt)" = "$MSG" ] || fail "read(2) differs"
    demo "and through read(2) (cat): \"$(cat $M/shared/hello.txt)\""
    ;;
esac
finish

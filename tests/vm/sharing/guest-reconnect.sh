# shellcheck shell=sh
# Scenario reconnect (reported, never judged). The host starts QEMU with
# -chardev socket,reconnect-ms=1000 and hot-plugs the device after boot (a
# -device on the command line fails to realize with reconnect-ms). Then
# the host kills and restarts the daemon; this script reports what still
# works. ctl slot 0: restarted (host, after the new daemon saw QEMU
# reconnect and the host created late).
say() { echo "GUEST-RECONNECT: $*"; }
echo 3 >/sys/module/virtio_famfs/parameters/request_timeout
marker booted
t0=$(now_ms)
until [ -d /sys/kernel/debug/virtio_famfs/famfs ]; do
    [ $(($(now_ms) - t0)) -lt 60000 ] || { say "no device hot-plugged in 60 s"; exit 0; }
    sleep 0.1
done
say "device hot-plugged and bound after $(($(now_ms) - t0)) ms"
mount_famfs
famfs-tool verify $M/f 7 mmap || fail "verify f"
ctl_is 0 restarted || true      # opens ctl now: its extent map is cached
say "mounted; f verified"
marker mounted
if famfs-tool wait-at $M/ctl 0 restarted 120 >/dev/null; then say "host says: daemon restarted"; else say "no restart flag from the host"; fi
t0=$(now_ms)
if ls $M/late >/dev/null 2>/tmp/err; then
    say "after the restart: lookup of late works ($(($(now_ms) - t0)) ms)"
    famfs-tool verify $M/late 9 mmap && say "late verified" || say "late unreadable"
else
    say "after the restart: lookup of late fails after $(($(now_ms) - t0)) ms: $(cat /tmp/err)"
fi
if mkdir $M/newdir 2>/tmp/err; then say "mkdir works"; else say "mkdir fails: $(cat /tmp/err)"; fi
famfs-tool verify $M/f 7 mmap >/dev/null && say "f (mapped before) still verifies" || say "f no longer readable"
cat "$STATS"
ERRORS_OK=1
finish

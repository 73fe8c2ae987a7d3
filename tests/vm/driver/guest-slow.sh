#!/bin/sh
# Guest side of run-driver-tests.sh slow: hostile_device.py with
# HOSTILE_INIT_GATE, a device that does not answer INIT until the host
# opens the gate ("GUEST-HOST: open-init-gate"), answers "slow*" lookups
# 0.25 s apart and never answers a lookup of "stall".
set -e
M=/mnt
STATS=/sys/kernel/debug/virtio_famfs/hostile/stats
fail() { echo "GUEST-CHECK: FAIL $*"; exit 1; }
now() { cut -d' ' -f1 /proc/uptime; }
# since T0: seconds since T0, as a decimal.
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# le A B: A <= B for decimals.
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
stat_of() { sed -n "s/^$1 //p" $STATS; }

# Waits in D state are reported after 1 s; killable ones never are.
echo 1 >/proc/sys/kernel/hung_task_timeout_secs
mkdir -p $M

# Probe did no device I/O.
[ "$(stat_of req_init)" = 0 ] || fail "probe sent INIT"
echo "GUEST-CHECK: PASS probe sent nothing"

# The device does not answer INIT: the mount fails after the timeout.
t0=$(now)
if mount -t famfs -o timeout=3 hostile $M 2>/tmp/err; then fail "mount worked"; fi
t=$(since $t0)
echo "mount failed after $t s: $(cat /tmp/err)"
grep -qi "timed out" /tmp/err || fail "mount error is not a timeout"
le 2.5 "$t" && le "$t" 8 || fail "mount took $t s"
echo "GUEST-CHECK: PASS mount without INIT reply fails with a timeout"

# A mount waiting for it can be killed at once.
mount -t famfs -o timeout=600 hostile $M 2>/dev/null &
pid=$!
sleep 2
kill -0 $pid 2>/dev/null || fail "mount did not wait"
t0=$(now)
kill -KILL $pid
wait $pid 2>/dev/null || true
t=$(since $t0)
le "$t" 1.5 || fail "killed mount took $t s"
echo "GUEST-CHECK: PASS killed mount returned in $t s"

# The device answers the INIT it holds: the next mount succeeds, and no
# second INIT was ever sent.
echo "GUEST-HOST: open-init-gate"
sleep 1
mount -t famfs -o timeout=10 hostile $M || fail "mount after INIT reply"
[ "$(stat_of req_init)" = 1 ] || fail "INIT sent $(stat_of req_init) times"
echo "GUEST-CHECK: PASS a later mount succeeds with the late INIT reply"

# 24 lookups at once, answered 0.25 s apart (6 s) with timeout=2: the queue
# keeps moving, so none times out and the device stays alive.
mount -o remount,timeout=2 $M || fail "remount timeout=2"
t0=$(now)
i=0
while [ $i -lt 24 ]; do
    i=$((i + 1))
    (stat $M/slow$i 2>&1 | grep -q "No such file" && touch /tmp/slow.$i) &
done
wait
t=$(since $t0)
n=$(ls /tmp/slow.* 2>/dev/null | wc -l)
echo "24 slow lookups: $n answered ENOENT in $t s"
[ "$n" = 24 ] || fail "only $n of 24 slow lookups answered"
le 5 "$t" || fail "slow lookups took only $t s: not slow"
if dmesg | grep -q "failing all requests"; then fail "device declared dead"; fi
stat $M/good >/dev/null || fail "stat after slow lookups"
echo "GUEST-CHECK: PASS a slow but moving queue is not a dead device"

# A stat waiting for a reply that never comes can be killed at once.
mount -o remount,timeout=600 $M || fail "remount timeout=600"
stat $M/stall >/dev/null 2>&1 &
pid=$!
sleep 2
kill -0 $pid 2>/dev/null || fail "stat did not wait"
t0=$(now)
kill -KILL $pid
wait $pid 2>/dev/null || true
t=$(since $t0)
le "$t" 1.5 || fail "killed stat took $t s"
echo "GUEST-CHECK: PASS killed stat returned in $t s"

# The device goes away while a request waits: the waiter fails at once.
stat $M/stall >/dev/null 2>/tmp/err &
pid=$!
sleep 2
kill -0 $pid 2>/dev/null || fail "stat did not wait"
DRV=/sys/bus/virtio/drivers/virtio_famfs
t0=$(now)
basename "$(readlink -f $DRV/virtio*)" >$DRV/unbind || fail "unbind"
if wait $pid; then fail "stat worked after unbind"; fi
t=$(since $t0)
echo "waiting stat after unbind: $(cat /tmp/err) after $t s"
grep -q "No such device" /tmp/err || fail "stat error is not ENODEV"
le "$t" 2 || fail "unbind with a waiting stat took $t s"
echo "GUEST-CHECK: PASS a waiting stat fails with ENODEV when the device goes"

umount $M || fail "umount"
rmmod virtio_famfs || fail "rmmod"
if dmesg | grep -q "blocked for more than"; then fail "hung task report"; fi
echo "GUEST-CHECK: PASS"

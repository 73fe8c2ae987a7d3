#!/bin/sh
# The initramfs test script of run-sharing-tests.sh (busybox sh). Every VM
# of every scenario boots the same initramfs; the kernel command line says
# what to run: famfs_test.scenario=NAME famfs_test.vm=a|b [famfs_test.K=V].
# Dotted parameters are ignored by the kernel and not passed to init.
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^famfs_test\.$1=//p"; }
SCENARIO=$(arg scenario)
VM=$(arg vm)
[ -n "$SCENARIO" ] && [ -n "$VM" ] || { echo "GUEST-CHECK: FAIL no famfs_test.scenario/vm"; exit 1; }
[ -f "/sharing/guest-$SCENARIO.sh" ] || { echo "GUEST-CHECK: FAIL no script for $SCENARIO"; exit 1; }
echo "GUEST-CHECK: [$VM] scenario $SCENARIO"
. /sharing/common.sh
. "/sharing/guest-$SCENARIO.sh"

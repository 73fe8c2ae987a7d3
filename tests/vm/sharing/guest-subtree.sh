# shellcheck shell=sh
# Scenario subtree: VM a's socket exports /a, VM b's /b (both masters) of
# one device that also holds b's files for a, a's for b, and ctl at the
# root. Each VM sees exactly its own tree (find, ls -R), no guessed path
# of the other tree or of the root resolves, and what it creates lands
# in its own tree (the host checks).
mkdir -p $M
mount -t famfs famfs $M || fail "mount"
. /lib/subtree.sh
subtree_sees_own
cat $M/f$VM $M/d$VM/f${VM}2 >/dev/null || fail "read own files"
subtree_hides $O f$O d$O/f${O}2 $O/f$O ctl .meta a b
subtree_creates
# statfs counts this export only: files f$VM, f${VM}2, new-$VM, dir-$VM/f;
# directories: the root, d$VM, dir-$VM.
nodes=$(($(stat -f -c %c $M) - $(stat -f -c %d $M)))
[ "$nodes" = 7 ] || fail "statfs: $nodes nodes in use, not 7"
check "statfs: $nodes nodes in use; $(df -k $M | awk 'NR == 2 {print $3 " KiB used, " $4 " KiB free"}')"
ERRORS_OK=1 # the lookups of guessed paths are ENOENT replies
finish

# shellcheck shell=sh
# Scenario subtree: VM a's virtio-fs socket exports /a, VM b's /b of one
# device that also holds the other's files and a file at the root. Each
# sees exactly its own tree, no guessed path elsewhere resolves, and what
# it creates lands in its tree (the host checks).
mount_virtiofs
. /lib/subtree.sh
subtree_sees_own
famfs-tool verify $M/f$VM 11 read || fail "verify f$VM"
subtree_hides $O f$O d$O/f${O}2 $O/f$O top a b
subtree_creates
# statfs counts this export only (FUSE's f_files: files plus directories):
# f$VM, f${VM}2, new-$VM, dir-$VM/f; the root, d$VM, dir-$VM.
nodes=$(stat -f -c %c $M)
[ "$nodes" = 7 ] || fail "statfs: $nodes files, not 7"
check "statfs: $nodes files; $(df -k $M | awk 'NR == 2 {print $3 " KiB used, " $4 " KiB free"}')"

# shellcheck shell=sh
# Scenario subtree: VM a's virtio-fs socket exports /a, VM b's /b of one
# device that also holds the other's files and a file at the root. Each
# sees exactly its own tree, no guessed path elsewhere resolves, and what
# it creates lands in its tree (the host checks).
mount_virtiofs
[ $VM = a ] && O=b || O=a
want="$M
$M/d$VM
$M/d$VM/f${VM}2
$M/f$VM"
got=$(find $M | sort)
[ "$got" = "$want" ] || fail "find shows: $(echo $got)"
check "find: $(echo $got)"
ls -R $M | sed "s/^/ls-R [$VM] /"
[ "$(stat -c %s $M/f$VM)" = 1048576 ] || fail "f$VM size"
famfs-tool verify $M/f$VM 11 read || fail "verify f$VM"
for p in $O f$O d$O/f${O}2 $O/f$O top a b; do
    [ "$p" = "$VM" ] && continue
    if stat $M/$p >/dev/null 2>&1; then fail "$M/$p resolves"; fi
done
check "no path of the other tree or of the root resolves"
[ "$(stat -c %i $M/..)" = "$(stat -c %i /)" ] || fail "$M/.. is not /"
truncate -s 64K $M/new-$VM || fail "create new-$VM"
mkdir $M/dir-$VM || fail "mkdir dir-$VM"
truncate -s 4K $M/dir-$VM/f || fail "create dir-$VM/f"
# statfs counts this export only (FUSE's f_files: files plus directories):
# f$VM, f${VM}2, new-$VM, dir-$VM/f; the root, d$VM, dir-$VM.
nodes=$(stat -f -c %c $M)
[ "$nodes" = 7 ] || fail "statfs: $nodes files, not 7"
check "statfs: $nodes files; $(df -k $M | awk 'NR == 2 {print $3 " KiB used, " $4 " KiB free"}')"

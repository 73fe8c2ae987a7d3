# shellcheck shell=sh
# Guest checks (busybox sh) shared by the subtree scenarios of the sharing
# and virtio-fs suites: VM $VM (a or b) mounted at $M the export of /$VM,
# which holds f$VM (1 MiB) and d$VM/f${VM}2; the other VM's tree and the
# root hold files it must not see. The including script defines fail and
# check. In the guest at /lib/subtree.sh.

# subtree_sees_own: find shows exactly the own tree, f$VM has its size;
# sets O to the other VM.
subtree_sees_own() {
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
}

# subtree_hides PATH...: no PATH (but the own tree's name) resolves.
subtree_hides() {
    for p in "$@"; do
        [ "$p" = "$VM" ] && continue
        if stat $M/$p >/dev/null 2>&1; then fail "$M/$p resolves"; fi
    done
    check "no path of the other tree or of the root resolves"
}

# subtree_creates: `..` of the mount is the guest's own /, never the
# device root; new-$VM, dir-$VM and dir-$VM/f are created (the host
# checks they land in the own tree).
subtree_creates() {
    [ "$(stat -c %i $M/..)" = "$(stat -c %i /)" ] || fail "$M/.. is not /"
    truncate -s 64K $M/new-$VM || fail "create new-$VM"
    mkdir $M/dir-$VM || fail "mkdir dir-$VM"
    truncate -s 4K $M/dir-$VM/f || fail "create dir-$VM/f"
}

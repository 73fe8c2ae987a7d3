#!/bin/bash
# tests/packaging/run.sh — build the Debian packages (packaging/build-debs.sh),
# install them on this machine (Debian bookworm, root) and check them; part
# of scripts/test.sh, hence of CI. Both packages are removed again.
#
#   vhost-famfs        dpkg -i; `vhost-famfs --version` is the package's;
#                      man pages (man -w, rendered), bash completion
#                      completing subcommands, systemd-analyze verify of the
#                      units; dpkg --purge leaves nothing behind
#   virtio-famfs-dkms  dpkg -i registers the source with DKMS; DKMS skips
#                      kernels before 6.12; dkms builds
#                      the module against the Debian 6.12 guest headers
#                      (tests/vm/provision.sh) without warnings; that .ko
#                      loads in a test guest (its build id is checked),
#                      mounts the daemon's file system and reads a file the
#                      host made, with the packaged famfs-guest; dpkg
#                      --purge removes every DKMS build
#
# Refuses to run if either package is already installed (it would remove
# it). Knobs: the tests/vm/lib.sh ones (VM_KEEP=1 keeps the logs).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
. tests/vm/lib.sh
vm_setup
tmp=$(vm_tmpdir)
fails=0
check() { if "$@"; then return 0; fi; echo "FAILED: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
bad() { echo "FAILED: $*"; fails=$((fails + 1)); }

[ "$(id -u)" = 0 ] || { echo "packaging test: needs root (dpkg -i)" >&2; exit 1; }
for p in vhost-famfs virtio-famfs-dkms; do
    if dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
        echo "packaging test: $p is installed on this machine; not replacing it" >&2
        exit 1
    fi
done
if ! command -v dkms >/dev/null || ! command -v dpkg-shlibdeps >/dev/null; then
    echo "packaging test: installing dkms and dpkg-dev (apt-get, no upgrades)" >&2
    apt-get install -y -q --no-install-recommends dkms dpkg-dev >"$tmp/apt.log" 2>&1 \
        || { cat "$tmp/apt.log" >&2; exit 1; }
fi

# dpkg ARGS...: dpkg, waiting (up to 5 min) while another dpkg or apt
# holds its lock, as apt's DPkg::Lock::Timeout does.
dpkg() {
    local i out
    for ((i = 0; i < 150; i++)); do
        if out=$(command dpkg "$@" 2>&1); then echo "$out"; return 0; fi
        grep -q 'lock' <<<"$out" || { echo "$out"; return 1; }
        sleep 2
    done
    echo "$out"; return 1
}

installed=()
cleanup() {
    local p
    for p in "${installed[@]}"; do dpkg --purge "$p" >/dev/null 2>&1 || true; done
    vm_cleanup
}
trap cleanup EXIT

t0=$SECONDS
mapfile -t debs < <(packaging/build-debs.sh "$tmp/debs")
deb=${debs[0]} dkmsdeb=${debs[1]}
VERSION=$(dpkg-deb -f "$deb" Version); VERSION=${VERSION%-*}
echo "built in $((SECONDS - t0))s: ${debs[*]##*/}"

# ------------------------------------------------------------ vhost-famfs
echo "=== vhost-famfs package"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$tmp/contents"
want=(/usr/bin/vhost-famfs /usr/share/man/man1/vhost-famfs.1.gz
    /usr/share/man/man1/vhost-famfs-serve.1.gz /usr/share/man/man1/vhost-famfs-mkfs.1.gz
    /usr/share/bash-completion/completions/vhost-famfs
    /usr/share/zsh/vendor-completions/_vhost-famfs
    /usr/share/fish/vendor_completions.d/vhost-famfs.fish
    /lib/systemd/system/vhost-famfs@.service /usr/share/doc/vhost-famfs/copyright
    /usr/share/doc/vhost-famfs/user-guide.md)
# Shipped whenever the tree has them.
[ ! -f vmm-config/systemd/vhost-famfs@.socket ] || want+=(/lib/systemd/system/vhost-famfs@.socket)
[ ! -f vmm-config/qemu/50-vhost-famfs.json ] || want+=(/usr/share/doc/vhost-famfs/examples/50-vhost-famfs.json)
for f in "${want[@]}"; do grep -qx "$f" "$tmp/contents" || bad "$f not in the package"; done
echo "contents: $(grep -c . "$tmp/contents") entries, ${#want[@]} checked"
dpkg-deb -f "$deb" Depends | grep -q 'libc6 (>=' || bad "Depends: $(dpkg-deb -f "$deb" Depends)"

dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; exit 1; }
installed+=(vhost-famfs)
got=$(vhost-famfs --version)
[ "$got" = "vhost-famfs $VERSION" ] && ok "vhost-famfs --version: $got" || bad "--version: $got"
[ "$(command -v vhost-famfs)" = /usr/bin/vhost-famfs ] || bad "vhost-famfs on PATH is $(command -v vhost-famfs)"
# The man pages are found and render; groff warns of nothing but line
# filling (long option names in 80 columns).
for page in vhost-famfs vhost-famfs-serve vhost-famfs-cp; do
    man -w "$page" >/dev/null 2>&1 || { bad "man -w $page"; continue; }
    MANWIDTH=80 man --warnings "$page" >"$tmp/man.txt" 2>"$tmp/man.err" || bad "man $page"
    grep -q '^NAME' "$tmp/man.txt" || bad "man $page: no NAME section"
    warn=$(grep -Ev "cannot adjust line|can't break line" "$tmp/man.err" || true)
    [ -z "$warn" ] || bad "man $page: $warn"
done
ok "man pages: $(ls /usr/share/man/man1/vhost-famfs*.1.gz | wc -l) installed"
# bash completes the subcommands.
comp=$(bash -c '. /usr/share/bash-completion/completions/vhost-famfs
    fn=$(complete -p vhost-famfs | sed -n "s/.* -F \([^ ]*\) .*/\1/p")
    COMP_WORDS=(vhost-famfs se); COMP_CWORD=1; COMP_LINE="vhost-famfs se"; COMP_POINT=${#COMP_LINE}
    "$fn" vhost-famfs se vhost-famfs; printf "%s\n" "${COMPREPLY[@]}"' 2>&1)
grep -qx serve <<<"$comp" && ok "bash completion: 'vhost-famfs se<TAB>' offers serve" \
    || bad "bash completion offers: $comp"
# QEMU's descriptor is JSON naming the installed binary.
if [ -f /usr/share/doc/vhost-famfs/examples/50-vhost-famfs.json ]; then
    b=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["binary"])' \
        /usr/share/doc/vhost-famfs/examples/50-vhost-famfs.json 2>&1) || true
    [ "$b" = /usr/bin/vhost-famfs ] && ok "50-vhost-famfs.json: binary $b" \
        || bad "50-vhost-famfs.json: binary $b, not /usr/bin/vhost-famfs"
fi
# The units parse and name an existing binary (systemd's own checker).
if command -v systemd-analyze >/dev/null; then
    units=(vhost-famfs@dax0.0.service)
    [ ! -f /lib/systemd/system/vhost-famfs@.socket ] || units+=(vhost-famfs@dax0.0.socket)
    if out=$(systemd-analyze verify "${units[@]}" 2>&1); then ok "systemd-analyze verify ${units[*]}"
    else bad "systemd-analyze verify: $out"; fi
fi
dpkg --purge vhost-famfs >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; bad "dpkg --purge vhost-famfs"; }
installed=()
left=$(while read -r f; do [ -d "$f" ] || [ ! -e "$f" ] || echo "$f"; done <"$tmp/contents")
[ -z "$left" ] && ok "dpkg --purge removed every file" || bad "left after purge: $left"

# ------------------------------------------------------ virtio-famfs-dkms
echo "=== virtio-famfs-dkms package"
dpkg -i "$dkmsdeb" >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; exit 1; }
installed+=(virtio-famfs-dkms)
dkms status -m virtio-famfs -v "$VERSION" | grep -q . && ok "dkms add: $(dkms status -m virtio-famfs -v "$VERSION" | head -n1)" \
    || bad "the package did not register with dkms"
# Kernels before 6.12 are skipped (BUILD_EXCLUSIVE_KERNEL: DKMS exits 77).
rc=0; dkms build -m virtio-famfs -v "$VERSION" -k 6.1.0-99-amd64 --kernelsourcedir "$KHEADERS" \
    >"$tmp/dkms-old.log" 2>&1 || rc=$?
[ $rc = 77 ] && ok "dkms skips a 6.1 kernel" || { cat "$tmp/dkms-old.log"; bad "dkms build for 6.1: exit $rc, not 77"; }
# Build against the provisioned Debian 6.12 guest headers.
if ! dkms build -m virtio-famfs -v "$VERSION" -k "$KVER" --kernelsourcedir "$KHEADERS" >"$tmp/dkms.log" 2>&1; then
    cat "$tmp/dkms.log"; cat /var/lib/dkms/virtio-famfs/"$VERSION"/build/make.log 2>/dev/null || true
    bad "dkms build"; exit 1
fi
# DKMS keeps the build log beside the module.
mlog=/var/lib/dkms/virtio-famfs/$VERSION/$KVER/$(uname -m)/log/make.log
if [ ! -f "$mlog" ]; then bad "no DKMS build log $mlog"
elif grep -qi 'warning:' "$mlog"; then bad "warnings in the DKMS build: $(grep -i 'warning:' "$mlog")"
else ok "DKMS build log: $(grep -c . "$mlog") lines, no warnings"; fi
ko=$(find "/var/lib/dkms/virtio-famfs/$VERSION/$KVER" -name 'virtio_famfs.ko*' | head -n1)
[ -n "$ko" ] || { bad "dkms build made no module"; exit 1; }
cp "$ko" "$tmp/"; ko=$tmp/${ko##*/}
vermagic=$(modinfo -F vermagic "$ko")
[ "${vermagic%% *}" = "$KVER" ] && ok "dkms build: ${ko##*/} for $KVER" || bad "vermagic $vermagic"
# The guest compares the loaded module's build id with this one.
readelf -n "$ko" | sed -n 's/^ *Build ID: //p' >"$tmp/build-id"
[ -s "$tmp/build-id" ] || bad "no build id in $ko"

# The DKMS-built module in a guest, with the packaged famfs-guest.
export VHOST_FAMFS_SYSTEM_UUID=5e1f0000-1111-4222-8333-444455556666
export VHOST_FAMFS_DEVICE=$tmp/dev
BIN=$ROOT/target/release/vhost-famfs
"$BIN" mkfs --size 256M >/dev/null
"$BIN" creat -s 3M -S 5 f
vm_build_initramfs "$tmp/ir.cpio.gz" tests/packaging/guest-dkms.sh "$ko" /usr/bin/famfs-guest \
    "$tmp/build-id:/etc/dkms-build-id"
"$BIN" serve -s "$tmp/fs.sock,role=master" >"$tmp/daemon.log" 2>&1 &
daemon=$!
vm_register_pid "$daemon"
vm_wait_socket "$tmp/fs.sock" 10
vm_start dkms "$tmp/ir.cpio.gz" "$tmp/guest.log" \
    -chardev socket,id=fs0,path="$tmp/fs.sock" \
    -device vhost-user-test-device-pci,chardev=fs0,virtio-id=6,num_vqs=2,config_size=96
if vm_wait dkms 300; then ok "the DKMS-built module loads, mounts and reads in a guest"
else bad "guest with the DKMS-built module"; fi
tr -d '\r' <"$tmp/guest.log" | grep -a 'GUEST-CHECK' || true
kill "$daemon" 2>/dev/null || true

dpkg --purge virtio-famfs-dkms >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; bad "dpkg --purge virtio-famfs-dkms"; }
installed=()
if [ -z "$(dkms status -m virtio-famfs)" ] && [ ! -e "/usr/src/virtio-famfs-$VERSION" ] \
    && [ ! -e /var/lib/dkms/virtio-famfs ]; then ok "dpkg --purge removed the DKMS builds and source"
else bad "left after purge: $(dkms status -m virtio-famfs) $(ls -d /usr/src/virtio-famfs-* /var/lib/dkms/virtio-famfs 2>/dev/null)"; fi

echo "packaging test: $([ $fails = 0 ] && echo PASS || echo "$fails check(s) FAILED") in $((SECONDS - t0))s"
exit $((fails > 0))

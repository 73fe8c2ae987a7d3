#!/bin/bash
# packaging/build-debs.sh [OUT_DIR] — build the Debian packages:
#
#   vhost-famfs_VERSION-1_amd64.deb        the daemon and host CLI: binary,
#       man pages and bash/zsh/fish completions (generated from the clap
#       definitions by `vhost-famfs gen-assets`), the systemd units from
#       vmm-config/systemd/ and the QEMU vhost-user descriptor from
#       vmm-config/qemu/ (each if present), documentation
#   virtio-famfs-dkms_VERSION-1_amd64.deb  the guest module's source for
#       DKMS (guest-driver/, spec/virtio_famfs.h, dkms.conf) and the static
#       guest tool famfs-guest (guest-tools/)
#
# OUT_DIR defaults to target/debian. Needs cargo, gcc (static libc),
# dpkg-dev (dpkg-shlibdeps); no root. Maintainer: $DEBFULLNAME <$DEBEMAIL>.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$(realpath -m "${1:-$ROOT/target/debian}")
cd "$ROOT"

VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' vhost-famfs/Cargo.toml | head -n1)
[ -n "$VERSION" ] || { echo "build-debs: no version in vhost-famfs/Cargo.toml" >&2; exit 1; }
DEBVER=$VERSION-1
ARCH=$(dpkg --print-architecture)
MAINTAINER="${DEBFULLNAME:-vhost-famfs maintainers} <${DEBEMAIL:-vhost-famfs@localhost.invalid}>"
DKMS_NAME=virtio-famfs

rm -rf "$OUT/stage" "$OUT/build"
mkdir -p "$OUT/stage" "$OUT/build"

# copyright FILE: the licenses of what the packages hold (DEP-5).
copyright() {
    cat >"$1" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: vhost-famfs

Files: *
License: Apache-2.0 OR BSD-3-Clause
 On Debian systems the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0 and the BSD license in
 /usr/share/common-licenses/BSD.

Files: guest-driver/*
License: GPL-2.0-only
 On Debian systems the GPL 2 is in /usr/share/common-licenses/GPL-2.
COPYRIGHT
}

# finish_deb STAGE NAME CONTROL_FIELDS...: md5sums, Installed-Size, build.
finish_deb() {
    local stage=$1 name=$2 deb; shift 2
    (cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z \
        | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
    {
        echo "Package: $name"
        echo "Version: $DEBVER"
        echo "Architecture: $ARCH"
        echo "Maintainer: $MAINTAINER"
        echo "Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
        printf '%s\n' "$@"
    } >"$stage/DEBIAN/control"
    deb=$OUT/${name}_${DEBVER}_$ARCH.deb
    dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
    echo "$deb"
}

# ---------------------------------------------------------------- the daemon
cargo build --release --locked --quiet -p vhost-famfs
bin=$ROOT/target/release/vhost-famfs
s=$OUT/stage/vhost-famfs
install -D -m 0755 "$bin" "$s/usr/bin/vhost-famfs"
strip --strip-unneeded "$s/usr/bin/vhost-famfs"
"$bin" gen-assets "$OUT/build/assets"
mkdir -p "$s/usr/share/man/man1"
for m in "$OUT/build/assets/man1/"*.1; do
    gzip -9n <"$m" >"$s/usr/share/man/man1/${m##*/}.gz"
done
install -D -m 0644 "$OUT/build/assets/completions/vhost-famfs.bash" \
    "$s/usr/share/bash-completion/completions/vhost-famfs"
install -D -m 0644 "$OUT/build/assets/completions/_vhost-famfs" \
    "$s/usr/share/zsh/vendor-completions/_vhost-famfs"
install -D -m 0644 "$OUT/build/assets/completions/vhost-famfs.fish" \
    "$s/usr/share/fish/vendor_completions.d/vhost-famfs.fish"
for u in vmm-config/systemd/vhost-famfs@.service vmm-config/systemd/vhost-famfs@.socket; do
    [ ! -f "$u" ] || install -D -m 0644 "$u" "$s/lib/systemd/system/${u##*/}"
done
# The vhost-user descriptor ships as an example, not in QEMU's
# /usr/share/qemu/vhost-user/: the schema has no famfs backend type and
# libvirt fails every lookup there on a descriptor of unknown type
# (docs/user-guide.md, "Sockets").
if [ -f vmm-config/qemu/50-vhost-famfs.json ]; then
    install -D -m 0644 vmm-config/qemu/50-vhost-famfs.json \
        "$s/usr/share/doc/vhost-famfs/examples/50-vhost-famfs.json"
fi
d=$s/usr/share/doc/vhost-famfs
install -D -m 0644 README.md "$d/README.md"
for f in docs/user-guide.md docs/sharing.md vmm-config/README.md; do
    [ ! -f "$f" ] || install -m 0644 "$f" "$d/${f//\//-}"
done
# The unit's Documentation= names user-guide.md.
[ ! -f "$d/docs-user-guide.md" ] || mv "$d/docs-user-guide.md" "$d/user-guide.md"
[ ! -f "$d/docs-sharing.md" ] || mv "$d/docs-sharing.md" "$d/sharing.md"
copyright "$d/copyright"
mkdir -p "$s/DEBIAN"
install -m 0755 packaging/debian/vhost-famfs.postinst "$s/DEBIAN/postinst"
install -m 0755 packaging/debian/vhost-famfs.postrm "$s/DEBIAN/postrm"
# Library dependencies, as dpkg-shlibdeps computes them for any package.
mkdir -p "$OUT/build/shlibs/debian"
printf 'Source: vhost-famfs\n\nPackage: vhost-famfs\nArchitecture: any\n' \
    >"$OUT/build/shlibs/debian/control"
depends=$(cd "$OUT/build/shlibs" && dpkg-shlibdeps -O -e"$s/usr/bin/vhost-famfs" 2>/dev/null \
    | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "build-debs: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
finish_deb "$s" vhost-famfs \
    "Depends: $depends" \
    "Recommends: qemu-system-x86 (>= 1:11.1)" \
    "Section: admin" \
    "Priority: optional" \
    "Description: vhost-user device sharing DAX memory with VMs as famfs files" \
    " vhost-famfs serves a famfs file system kept on a shared memory device" \
    " (CXL, /dev/daxX.Y) to virtual machines as a vhost-user device; guests" \
    " mount it with the virtio_famfs module (package virtio-famfs-dkms) and" \
    " map files straight from the shared memory. The same program formats," \
    " fills and checks the device on the host (mkfs, cp, creat, fsck, ...)."

# ------------------------------------------------------- the guest module
s=$OUT/stage/virtio-famfs-dkms
src=$s/usr/src/$DKMS_NAME-$VERSION
mkdir -p "$src/guest-driver" "$src/spec"
install -m 0644 guest-driver/Kbuild guest-driver/Makefile guest-driver/*.c guest-driver/*.h \
    "$src/guest-driver/"
install -m 0644 spec/virtio_famfs.h "$src/spec/"
sed "s/#MODULE_VERSION#/$VERSION/" packaging/dkms.conf >"$src/dkms.conf"
make -s -C guest-tools O="$OUT/build"
install -D -m 0755 "$OUT/build/famfs-guest" "$s/usr/bin/famfs-guest"
d=$s/usr/share/doc/virtio-famfs-dkms
install -D -m 0644 guest-driver/README.md "$d/README.md"
install -m 0644 guest-tools/README.md "$d/famfs-guest.md"
copyright "$d/copyright"
mkdir -p "$s/DEBIAN"
for f in postinst prerm; do
    sed "s/#MODULE_VERSION#/$VERSION/" "packaging/debian/virtio-famfs-dkms.$f" >"$s/DEBIAN/$f"
    chmod 0755 "$s/DEBIAN/$f"
done
finish_deb "$s" virtio-famfs-dkms \
    "Depends: dkms (>= 2.1.0.0)" \
    "Section: kernel" \
    "Priority: optional" \
    "Description: virtio-famfs guest module (DKMS) and guest tool" \
    " The guest side of vhost-famfs: virtio_famfs.ko, built by DKMS for each" \
    " installed kernel, mounts the shared famfs file system" \
    " (mount -t famfs TAG /mnt); famfs-guest copies files into it, creates" \
    " files of a size, shows extent maps and flushes CPU caches for memory" \
    " that is not coherent between hosts."

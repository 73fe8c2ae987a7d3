#!/bin/bash
# tests/vm/provision.sh — fetch and cache everything the guest (VM) tests need.
#
# Idempotent and cached: a second run with a complete cache does no network
# I/O (apart from an apt index refresh at most once a day) and takes well
# under a second. Runs as root on Debian bookworm (amd64).
#
# Provides, under $CACHE (${VHOST_FAMFS_CACHE:-$HOME/.cache/vhost-famfs}):
#   qemu/bin/qemu-system-x86_64  QEMU >= 11.1 from Debian forky, unpacked
#                                (bookworm's and trixie's QEMU lack vhost-user
#                                shared memory) and run through forky's ld.so
#   kernel/<KVER>/               Debian 6.12 guest kernel (image, modules,
#                                headers + kbuild for out-of-tree modules) and
#                                an uncompressed PVH vmlinux (boots faster)
#   busybox/<ver>/bin/busybox    static busybox for the initramfs
#   virtiofsd/bin/virtiofsd      (only with VHOST_FAMFS_VIRTIOFSD=1) Debian
#                                forky's virtiofsd, unpacked and run as QEMU
#                                is, for the benchmarks that compare with it
#   env.sh                       exports QEMU KERNEL KHEADERS BUSYBOX KVER ...
#
# Nothing is installed system-wide except missing host build tools (apt-get
# install, never an upgrade of installed packages). QEMU, kernel and busybox
# come from private apt configurations under $CACHE/apt that never touch the
# system's apt state.
#
# Knobs (environment):
#   VHOST_FAMFS_CACHE      cache dir (default $HOME/.cache/vhost-famfs)
#   VHOST_FAMFS_REFRESH    daily (default) | never | now: when to refresh the
#                          private apt indexes; a newer QEMU closure or kernel
#                          found after a refresh replaces the cached one
#   VHOST_FAMFS_KVER       pin the guest kernel, e.g. 6.12.117+deb12-cloud-amd64
#   VHOST_FAMFS_KFLAVOUR   cloud-amd64 (default, 34 MB) | amd64
#   VHOST_FAMFS_MIRROR / VHOST_FAMFS_SECURITY_MIRROR   Debian mirrors
#   VHOST_FAMFS_VIRTIOFSD  1: also provide virtiofsd (benchmarks)
set -euo pipefail

CACHE=${VHOST_FAMFS_CACHE:-$HOME/.cache/vhost-famfs}
REFRESH=${VHOST_FAMFS_REFRESH:-daily}
KFLAVOUR=${VHOST_FAMFS_KFLAVOUR:-cloud-amd64}
KVER_PIN=${VHOST_FAMFS_KVER:-}
MIRROR=${VHOST_FAMFS_MIRROR:-http://deb.debian.org/debian}
SECMIRROR=${VHOST_FAMFS_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
KSERIES=6.12
QEMU_SUITE=forky
QEMU_MIN=11.1   # first release whose vhost-user-test-device-pci maps SHMEM regions
QEMU_SEEDS=(qemu-system-x86 qemu-system-common qemu-system-data seabios)
HOST_PKGS=(gcc gcc-12 python3 make pahole zstd xz-utils bc binutils libc6-dev debian-archive-keyring)

export LC_ALL=C DEBIAN_FRONTEND=noninteractive

T_START=$(date +%s%N)
log() { printf '[provision %5.1fs] %s\n' "$(( ($(date +%s%N) - T_START) / 1000000 ))e-3" "$*" >&2; }
die() { echo "[provision] ERROR: $*" >&2; exit 1; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

case $REFRESH in daily|never|now) ;; *) die "VHOST_FAMFS_REFRESH must be daily|never|now" ;; esac
[ "$(id -u)" = 0 ] || die "must run as root (apt-get install of host tools)"
[ "$(dpkg --print-architecture)" = amd64 ] || die "only amd64 hosts are supported"

mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
# Serialize concurrent runs (two CI jobs on one machine share the cache).
exec 9>"$CACHE/.lock"
flock 9

# ------------------------------------------------------------ 1. host tools
# dpkg-query is cheap; apt only runs when something is missing.
step_host() {
    local missing=() p installed
    # One dpkg-query for all (one per package costs ~15 ms each).
    installed=" $(dpkg-query -W -f='${Package}=${db:Status-Status} ' "${HOST_PKGS[@]}" 2>/dev/null || true)"
    for p in "${HOST_PKGS[@]}"; do
        case $installed in *" $p=installed "*) ;; *) missing+=("$p") ;; esac
    done
    if [ ${#missing[@]} -eq 0 ]; then
        log "host tools: ok (${HOST_PKGS[*]})"
        return
    fi
    log "host tools: installing ${missing[*]} (apt-get update + install, no upgrades)"
    apt-get update -q >"$CACHE/host-apt.log" 2>&1 || { cat "$CACHE/host-apt.log" >&2; die "apt-get update failed"; }
    # Warn (do not stop) if apt must upgrade something to satisfy a dependency.
    local up
    up=$(apt-get install -s --no-install-recommends "${missing[@]}" 2>/dev/null | awk '/^Inst [^ ]+ \[/ {print $2}' | tr '\n' ' ')
    [ -z "$up" ] || log "host tools: note: apt upgrades these for dependencies: $up"
    apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$CACHE/host-apt.log" 2>&1 \
        || { cat "$CACHE/host-apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
}

# ------------------------------------------------------------ private apt
# apt_setup NAME SOURCES-LINE...: a self-contained apt root in $CACHE/apt/NAME.
# APT_CONFIG is read before anything else, and every Dir:: path points inside
# it (empty parts dirs keep the host's apt.conf.d hooks out), so the system's
# lists, status and cache are never read or written.
apt_setup() {
    local name=$1; shift
    local a=$CACHE/apt/$name
    mkdir -p "$a"/empty "$a"/lists/partial "$a"/cache/archives/partial "$a"/state
    [ -f "$a"/status ] || : >"$a"/status
    printf '%s\n' "$@" >"$a"/sources.list.new
    cat >"$a"/apt.conf.new <<EOF
Dir::Etc::main "/dev/null";
Dir::Etc::Parts "$a/empty";
Dir::Etc::SourceList "$a/sources.list";
Dir::Etc::SourceParts "$a/empty";
Dir::Etc::Preferences "/dev/null";
Dir::Etc::PreferencesParts "$a/empty";
Dir::State "$a/state";
Dir::State::Lists "$a/lists";
Dir::State::status "$a/status";
Dir::Cache "$a/cache";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Dir::Log "$a/state";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
APT::Sandbox::User "root";
Acquire::Languages "none";
Acquire::GzipIndexes "false";
Acquire::Check-Valid-Until "false";
EOF
    # Rewrite only on change so the files' mtimes stay meaningful.
    local f
    for f in sources.list apt.conf; do
        if cmp -s "$a/$f.new" "$a/$f"; then rm -f "$a/$f.new"; else mv "$a/$f.new" "$a/$f"; fi
    done
}

# apt_index NAME SUITE: path of the (uncompressed) main Packages index.
apt_index() {
    local f
    for f in "$CACHE/apt/$1/lists/"*"_dists_$2_main_binary-amd64_Packages"; do
        [ -f "$f" ] && { echo "$f"; return; }
    done
    return 0
}

# apt_refresh NAME SUITE...: apt-get update when an index is missing, when the
# sources changed, or per $REFRESH. A failed refresh with usable old indexes
# only warns, so a mirror hiccup does not break a fully cached machine.
apt_refresh() {
    local name=$1; shift
    local a=$CACHE/apt/$name s need=
    for s in "$@"; do [ -n "$(apt_index "$name" "$s")" ] || need=missing; done
    [ -f "$a/updated" ] && [ ! "$a/sources.list" -nt "$a/updated" ] || need=${need:-sources}
    if [ -z "$need" ]; then
        case $REFRESH in
            now) need=requested ;;
            daily) [ -z "$(find "$a/updated" -mmin +1440 2>/dev/null)" ] || need="older than a day" ;;
        esac
    fi
    [ -n "$need" ] || return 0
    log "apt index $name ($*): refreshing ($need)"
    if APT_CONFIG=$a/apt.conf apt-get update -q >"$a/update.log" 2>&1 \
        && ! grep -q '^E:' "$a/update.log"; then
        touch "$a/updated"
        return 0
    fi
    for s in "$@"; do
        [ -n "$(apt_index "$name" "$s")" ] || { cat "$a/update.log" >&2; die "apt-get update ($name) failed"; }
    done
    # Retry tomorrow, not on every run.
    touch "$a/updated"
    log "apt index $name: refresh failed, using the old index (see $a/update.log)"
}

# sig FILE...: cheap change detector (path, size, mtime).
sig() { stat -c '%n %s %Y' "$@" | sha256sum | cut -c1-16; }

# deb_file NAME VERSION ARCH: the file name apt-get download gives a package.
deb_file() { echo "${1}_${2//:/%3a}_${3}.deb"; }

# apt_fetch NAME DESTDIR "pkg ver arch"...: download the .debs not yet there.
apt_fetch() {
    local name=$1 dest=$2; shift 2
    local want=() line p v a
    mkdir -p "$dest"
    for line in "$@"; do
        read -r p v a <<<"$line"
        [ -s "$dest/$(deb_file "$p" "$v" "$a")" ] || want+=("$p=$v")
    done
    [ ${#want[@]} -gt 0 ] || return 0
    log "  downloading ${#want[@]} package(s) from $name"
    (cd "$dest" && APT_CONFIG=$CACHE/apt/$name/apt.conf apt-get download -q "${want[@]}") \
        >"$CACHE/apt/$name/download.log" 2>&1 \
        || { cat "$CACHE/apt/$name/download.log" >&2; die "apt-get download from $name failed"; }
}

# relink_abs ROOT: absolute symlinks in an unpacked tree point at the host;
# make them relative when the target was unpacked into ROOT too.
relink_abs() {
    local root=$1 l t
    while IFS= read -r -d '' l; do
        t=$(readlink "$l")
        [ -e "$root$t" ] || continue
        ln -sfn "$(realpath -s --relative-to="$(dirname "$l")" "$root$t")" "$l"
    done < <(find "$root" -type l -lname '/*' -print0)
}

# ------------------------------------------------------------ 2. QEMU (forky)
# Library closure of the seeds: Depends + Pre-Depends (first alternative,
# virtual names via Provides), followed only into library packages (lib* or
# Section libs). The rest (adduser, ipxe-qemu, ...) is not needed to run the
# binary. Prints "package version arch" lines, sorted.
# A second argument names other seeds (step_virtiofsd).
qemu_closure() {
    awk -v seeds="${2:-${QEMU_SEEDS[*]}}" '
    function bare(x) { sub(/[ (\[].*/, "", x); sub(/:.*/, "", x); return x }
    function trim(x) { gsub(/^[ \t]+|[ \t]+$/, "", x); return x }
    BEGIN { RS = ""; FS = "\n" }
    {
        p = v = a = s = d = pr = ""
        for (i = 1; i <= NF; i++) {
            if ($i ~ /^Package: /) p = substr($i, 10)
            else if ($i ~ /^Version: /) v = substr($i, 10)
            else if ($i ~ /^Architecture: /) a = substr($i, 15)
            else if ($i ~ /^Section: /) s = substr($i, 10)
            else if ($i ~ /^(Pre-)?Depends: /) { x = $i; sub(/^[^:]*: /, "", x); d = d "," x }
            else if ($i ~ /^Provides: /) pr = substr($i, 11)
        }
        if (p == "" || (p in ver)) next
        ver[p] = v; arch[p] = a; sec[p] = s; deps[p] = d
        n = split(pr, q, ",")
        for (j = 1; j <= n; j++) { x = bare(trim(q[j])); if (!(x in prov)) prov[x] = p }
    }
    END {
        n = split(seeds, todo, " ")
        for (j = 1; j <= n; j++) isseed[todo[j]] = 1
        for (h = 1; h <= n; h++) {
            x = todo[h]
            if (!(x in ver)) { if (x in prov) x = prov[x]; else { print "MISSING " x > "/dev/stderr"; continue } }
            if (x in done) continue
            done[x] = 1
            print x, ver[x], arch[x]
            m = split(deps[x], dl, ",")
            for (j = 1; j <= m; j++) {
                split(dl[j], alt, "|"); y = bare(trim(alt[1]))
                if (y == "" || (y in done)) continue
                z = (y in ver) ? y : ((y in prov) ? prov[y] : y)
                if (y ~ /^lib/ || sec[z] ~ /(^|\/)(old)?libs$/ || (y in isseed)) todo[++n] = y
            }
        }
    }' "$1" | sort
}

write_qemu_wrapper() {
    mkdir -p "$1/bin"
    cat >"$1/bin/qemu-system-x86_64.new" <<'EOF'
#!/bin/sh
# Generated by tests/vm/provision.sh. Runs the unpacked Debian forky QEMU on
# bookworm through forky's own dynamic loader and libraries. QEMU cannot find
# its data or modules relative to itself this way (its exe is ld.so), hence
# QEMU_MODULE_DIR (else it would load a host QEMU's modules) and -L.
R=$(cd "$(dirname "$(readlink -f "$0")")/../root" && pwd)
L=$R/usr/lib/x86_64-linux-gnu
export QEMU_MODULE_DIR="$L/qemu" GCONV_PATH="$L/gconv" GIO_MODULE_DIR="$L/gio/modules"
exec "$L/ld-linux-x86-64.so.2" --library-path "$L:$R/lib/x86_64-linux-gnu" \
    --argv0 qemu-system-x86_64 "$R/usr/bin/qemu-system-x86_64" \
    -L "$R/usr/share/qemu" -L "$R/usr/share/seabios" "$@"
EOF
    chmod +x "$1/bin/qemu-system-x86_64.new"
    mv "$1/bin/qemu-system-x86_64.new" "$1/bin/qemu-system-x86_64"
}

# verify_qemu DIR: the binary resolves all its libraries inside DIR, reports
# version >= QEMU_MIN and knows the generic vhost-user device. Prints version.
verify_qemu() {
    local d=$1 L=$1/root/usr/lib/x86_64-linux-gnu out v
    out=$("$L/ld-linux-x86-64.so.2" --library-path "$L" --list "$d/root/usr/bin/qemu-system-x86_64" 2>&1) \
        || { echo "$out" >&2; return 1; }
    # (Outputs go through variables: grep -q in a pipe would SIGPIPE the
    # writer and fail the pipeline under pipefail.)
    local stray
    stray=$(grep -v -e "$d/root/" -e linux-vdso <<<"$out" || true)
    [ -z "$stray" ] || { log "  libraries outside the QEMU root: $stray"; return 1; }
    out=$("$d/bin/qemu-system-x86_64" --version) || return 1
    v=$(sed -n 's/^QEMU emulator version \([0-9][0-9.]*\).*/\1/p' <<<"$out")
    [ -n "$v" ] || return 1
    printf '%s\n%s\n' "$QEMU_MIN" "$v" | sort -V -C || { log "  QEMU $v is older than $QEMU_MIN"; return 1; }
    out=$("$d/bin/qemu-system-x86_64" -device help 2>&1) || return 1
    grep -q '"vhost-user-test-device-pci"' <<<"$out" \
        || { log "  QEMU $v has no vhost-user-test-device-pci"; return 1; }
    echo "$v"
}

step_qemu() {
    local q=$CACHE/qemu idx s closure csig v
    apt_setup forky "deb [signed-by=$KEYRING] $MIRROR $QEMU_SUITE main"
    apt_refresh forky "$QEMU_SUITE"
    idx=$(apt_index forky "$QEMU_SUITE")
    s="$(sig "$idx") ${QEMU_SEEDS[*]}"
    if [ -f "$q/.ok" ] && [ "$(sed -n 1p "$q/.ok")" = "$s" ] && [ -x "$q/bin/qemu-system-x86_64" ] \
        && [ -x "$q/root/usr/bin/qemu-system-x86_64" ]; then
        QEMU_VERSION=$(sed -n 2p "$q/.ok")
        log "qemu: $QEMU_VERSION from $QEMU_SUITE (cached)"
        return
    fi
    closure=$(qemu_closure "$idx")
    echo "$closure" | grep -q '^qemu-system-x86 ' || die "qemu-system-x86 not in $QEMU_SUITE"
    csig=$(echo "$closure" | sha256sum | cut -c1-16)
    if [ -f "$q/.closure" ] && [ "$(cat "$q/.closure")" = "$csig" ] && [ -x "$q/bin/qemu-system-x86_64" ] \
        && v=$(verify_qemu "$q"); then
        printf '%s\n%s\n' "$s" "$v" >"$q/.ok"
        QEMU_VERSION=$v
        log "qemu: $v from $QEMU_SUITE (cached, index refreshed)"
        return
    fi
    log "qemu: resolving $QEMU_SUITE closure: $(echo "$closure" | wc -l) packages"
    local -a lines
    mapfile -t lines <<<"$closure"
    apt_fetch forky "$CACHE/debs/forky" "${lines[@]}"
    # Unpack beside the old tree and switch only once the new one works.
    local new=$CACHE/qemu.new line p ver a
    rm -rf "$new"; mkdir -p "$new/root"
    for line in "${lines[@]}"; do
        read -r p ver a <<<"$line"
        dpkg-deb -x "$CACHE/debs/forky/$(deb_file "$p" "$ver" "$a")" "$new/root"
    done
    relink_abs "$new/root"
    write_qemu_wrapper "$new"
    if ! v=$(verify_qemu "$new"); then
        rm -rf "$new"
        if [ -f "$q/.ok" ] && [ -x "$q/bin/qemu-system-x86_64" ]; then
            QEMU_VERSION=$(sed -n 2p "$q/.ok")
            log "qemu: new $QEMU_SUITE closure failed its checks; keeping QEMU $QEMU_VERSION"
            return
        fi
        die "unpacked QEMU failed its checks"
    fi
    # The wrapper finds its root relative to itself, so the tree can move.
    rm -rf "$q"; mv "$new" "$q"
    echo "$csig" >"$q/.closure"
    printf '%s\n%s\n' "$s" "$v" >"$q/.ok"
    QEMU_VERSION=$v
    # Drop .debs of the previous closure (busybox-static is handled below).
    local keep=" " f
    for line in "${lines[@]}"; do read -r p ver a <<<"$line"; keep+="$(deb_file "$p" "$ver" "$a") "; done
    for f in "$CACHE"/debs/forky/*.deb; do
        case $keep in *" ${f##*/} "*) ;; *) case ${f##*/} in busybox-static_*) ;; *) rm -f "$f" ;; esac ;; esac
    done
    log "qemu: $v from $QEMU_SUITE unpacked ($(du -sm "$q" | cut -f1) MiB)"
}

# ------------------------------------------------------------ 2b. virtiofsd
# Only with VHOST_FAMFS_VIRTIOFSD=1: forky's virtiofsd and its library
# closure, unpacked under $CACHE/virtiofsd and run through forky's ld.so as
# QEMU is. The benchmarks take $CACHE/virtiofsd/bin/virtiofsd when present.
step_virtiofsd() {
    [ "${VHOST_FAMFS_VIRTIOFSD:-0}" = 1 ] || return 0
    local d=$CACHE/virtiofsd idx closure csig line p ver a exe
    local -a lines
    idx=$(apt_index forky "$QEMU_SUITE")
    closure=$(qemu_closure "$idx" virtiofsd)
    echo "$closure" | grep -q '^virtiofsd ' || die "virtiofsd not in $QEMU_SUITE"
    csig=$(echo "$closure" | sha256sum | cut -c1-16)
    if [ -f "$d/.closure" ] && [ "$(cat "$d/.closure")" = "$csig" ] && [ -x "$d/bin/virtiofsd" ]; then
        log "virtiofsd: $(sed -n 's/^virtiofsd //p' <<<"$closure") (cached)"
        return
    fi
    mapfile -t lines <<<"$closure"
    apt_fetch forky "$CACHE/debs/forky" "${lines[@]}"
    rm -rf "$d"; mkdir -p "$d/root" "$d/bin"
    for line in "${lines[@]}"; do
        read -r p ver a <<<"$line"
        dpkg-deb -x "$CACHE/debs/forky/$(deb_file "$p" "$ver" "$a")" "$d/root"
    done
    relink_abs "$d/root"
    exe=$(cd "$d/root" && find usr -type f -name virtiofsd | head -n1)
    [ -n "$exe" ] || die "virtiofsd: no binary in the package"
    {
        echo '#!/bin/sh'
        echo "# Generated by tests/vm/provision.sh: forky's virtiofsd through forky's ld.so."
        echo 'R=$(cd "$(dirname "$(readlink -f "$0")")/../root" && pwd)'
        echo 'L=$R/usr/lib/x86_64-linux-gnu'
        echo "exec \"\$L/ld-linux-x86-64.so.2\" --library-path \"\$L:\$R/lib/x86_64-linux-gnu\" --argv0 virtiofsd \"\$R/$exe\" \"\$@\""
    } >"$d/bin/virtiofsd"
    chmod +x "$d/bin/virtiofsd"
    "$d/bin/virtiofsd" --version >/dev/null 2>&1 || die "virtiofsd: the unpacked binary does not run"
    echo "$csig" >"$d/.closure"
    log "virtiofsd: $(sed -n 's/^virtiofsd //p' <<<"$closure") unpacked"
}

# ------------------------------------------------------------ 3. busybox
step_busybox() {
    local idx v a b
    idx=$(apt_index forky "$QEMU_SUITE")
    read -r v a < <(awk 'BEGIN { RS = ""; FS = "\n" } $1 == "Package: busybox-static" {
        for (i = 1; i <= NF; i++) { if ($i ~ /^Version: /) v = substr($i, 10); if ($i ~ /^Architecture: /) a = substr($i, 15) }
        print v, a; exit }' "$idx")
    [ -n "${v:-}" ] || die "busybox-static not in $QEMU_SUITE"
    b=$CACHE/busybox/${v//:/_}
    if [ -f "$b/.ok" ]; then BUSYBOX=$(cat "$b/.ok"); log "busybox: $v (cached)"; return; fi
    # Static, so the forky build runs on any kernel and needs no libraries.
    apt_fetch forky "$CACHE/debs/forky" "busybox-static $v $a"
    rm -rf "$b.new"; mkdir -p "$b.new"
    dpkg-deb -x "$CACHE/debs/forky/$(deb_file busybox-static "$v" "$a")" "$b.new"
    # /bin/busybox before the /usr merge, /usr/bin/busybox after it.
    local rel
    for rel in usr/bin/busybox bin/busybox; do [ -x "$b.new/$rel" ] && break; done
    "$b.new/$rel" true || die "unpacked busybox does not run"
    rm -rf "$b"; mv "$b.new" "$b"
    BUSYBOX=$b/$rel
    echo "$BUSYBOX" >"$b/.ok"
    # Keep one busybox.
    local f
    for f in "$CACHE"/busybox/*; do [ "$f" = "$b" ] || rm -rf "$f"; done
    find "$CACHE/debs/forky" -name 'busybox-static_*.deb' ! -name "$(deb_file busybox-static "$v" "$a")" -delete
    log "busybox: $v unpacked"
}

# ------------------------------------------------------------ 4. guest kernel
# resolve_kver: newest linux-image-6.12.N+debX-FLAVOUR the metapackage points
# at in bookworm-security (that suite keeps older builds downloadable too).
resolve_kver() {
    awk -v meta="linux-image-$KSERIES-$KFLAVOUR" 'BEGIN { RS = ""; FS = "\n" }
        $1 == ("Package: " meta) {
            for (i = 1; i <= NF; i++) if ($i ~ /^Depends: /) {
                x = substr($i, 10); sub(/^linux-image-/, "", x); sub(/[ ,].*/, "", x); print x
            }
        }' "$1" | sort -V | tail -n1
}

# pkg_line IDX NAME: "name version arch" of NAME in IDX.
pkg_line() {
    awk -v want="$2" 'BEGIN { RS = ""; FS = "\n" }
        $1 == ("Package: " want) {
            for (i = 1; i <= NF; i++) { if ($i ~ /^Version: /) v = substr($i, 10); if ($i ~ /^Architecture: /) a = substr($i, 15) }
            print want, v, a; exit
        }' "$1"
}

# extract_vmlinux BZIMAGE OUT: the bzImage setup header gives the compressed
# payload's offset (0x248) and length (0x24c) after the (setup_sects+1)*512
# real-mode part; the kernel build appends the 4-byte decompressed size.
extract_vmlinux() {
    local bz=$1 out=$2 sects off len start magic
    sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
    [ "$sects" != 0 ] || sects=4
    off=$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ')
    len=$(od -An -tu4 -j $((0x24c)) -N4 "$bz" | tr -d ' ')
    start=$(( (sects + 1) * 512 + off ))
    magic=$(od -An -tx1 -j "$start" -N4 "$bz" | tr -d ' ')
    local -a dec
    case $magic in
        28b52ffd) dec=(zstd -dcq) ;;
        fd377a58) dec=(xz -dc) ;;
        *) log "  unknown bzImage payload magic $magic"; return 1 ;;
    esac
    dd if="$bz" bs=1M iflag=skip_bytes,count_bytes skip="$start" count=$((len - 4)) status=none \
        | "${dec[@]}" >"$out.tmp" || return 1
    # PVH entry = Xen ELF note type 18 (XEN_ELFNOTE_PHYS32_ENTRY).
    local notes
    notes=$(readelf -nW "$out.tmp" 2>&1) || return 1
    grep -Eq 'Xen.*(0x00000012|PHYS32)' <<<"$notes" || { log "  vmlinux has no PVH note"; return 1; }
    mv "$out.tmp" "$out"
}

step_kernel() {
    local idx kver base d k
    apt_setup bookworm-security "deb [signed-by=$KEYRING] $SECMIRROR bookworm-security main"
    apt_refresh bookworm-security bookworm-security
    idx=$(apt_index bookworm-security bookworm-security)
    # Resolving scans a 2.5 MB index; remember the answer per index version.
    local s rf=$CACHE/kernel/.resolved
    s="$(sig "$idx") $KFLAVOUR $KVER_PIN"
    if [ -f "$rf" ] && [ "$(sed -n 1p "$rf")" = "$s" ]; then
        kver=$(sed -n 2p "$rf")
    else
        kver=${KVER_PIN:-$(resolve_kver "$idx")}
        [ -n "$kver" ] || die "cannot resolve linux-image-$KSERIES-$KFLAVOUR in bookworm-security"
        mkdir -p "$CACHE/kernel"
        printf '%s\n%s\n' "$s" "$kver" >"$rf"
    fi
    base=${kver%-"$KFLAVOUR"}
    d=$CACHE/kernel/$kver
    KVER=$kver
    KERNEL=$d/vmlinux
    KHEADERS=$d/root/usr/src/linux-headers-$kver
    KCONFIG=$d/root/boot/config-$kver
    KMODULES=$d/root/lib/modules/$kver
    if [ -f "$d/.ok" ] && [ -f "$KERNEL" ] && [ -f "$KHEADERS/Makefile" ]; then
        log "kernel: $kver (cached)"
        return
    fi
    log "kernel: $kver: fetching image, headers, kbuild"
    local -a lines=() l
    for k in "linux-image-$kver-unsigned" "linux-headers-$kver" "linux-headers-$base-common" "linux-kbuild-$base"; do
        l=$(pkg_line "$idx" "$k")
        [ -n "$l" ] || die "$k not in bookworm-security (pin another VHOST_FAMFS_KVER?)"
        lines+=("$l")
    done
    apt_fetch bookworm-security "$CACHE/debs/kernel" "${lines[@]}"
    log "kernel: unpacking and extracting the PVH vmlinux"
    local new=$d.new p v a
    rm -rf "$new"; mkdir -p "$new/root"
    for l in "${lines[@]}"; do
        read -r p v a <<<"$l"
        dpkg-deb -x "$CACHE/debs/kernel/$(deb_file "$p" "$v" "$a")" "$new/root"
    done
    # The flavour headers' Makefile includes the -common one by absolute path.
    sed -i "s|^include /usr/src/|include $d/root/usr/src/|" "$new/root/usr/src/linux-headers-$kver/Makefile"
    relink_abs "$new/root"
    extract_vmlinux "$new/root/boot/vmlinuz-$kver" "$new/vmlinux" || die "could not extract vmlinux from vmlinuz-$kver"
    rm -rf "$d"; mv "$new" "$d"
    # Paths inside were written for $d (the include), so only now mark it good.
    touch "$d/.ok"
    # Keep one kernel: drop older trees and their .debs.
    local old
    for old in "$CACHE"/kernel/*/; do
        old=${old%/}
        [ "$old" = "$d" ] || { log "kernel: removing old ${old##*/}"; rm -rf "$old"; }
    done
    find "$CACHE/debs/kernel" -name '*.deb' ! -name "*${base}*" -delete
    log "kernel: $kver ready ($(du -sm "$d" | cut -f1) MiB)"
}

# ------------------------------------------------------------ 5. env.sh
step_env() {
    local tmp=$CACHE/env.sh.new
    cat >"$tmp" <<EOF
# Generated by tests/vm/provision.sh; source it (tests/vm/lib.sh does).
export VHOST_FAMFS_CACHE='$CACHE'
export QEMU='$CACHE/qemu/bin/qemu-system-x86_64'
export QEMU_VERSION='$QEMU_VERSION'
export KVER='$KVER'
export KERNEL='$KERNEL'
export KHEADERS='$KHEADERS'
export KCONFIG='$KCONFIG'
export KMODULES='$KMODULES'
export BUSYBOX='$BUSYBOX'
EOF
    if cmp -s "$tmp" "$CACHE/env.sh"; then rm -f "$tmp"; else mv "$tmp" "$CACHE/env.sh"; fi
    log "env: $CACHE/env.sh (QEMU $QEMU_VERSION, KVER $KVER) in $(ms_since "$T_START") ms"
}

QEMU_VERSION='' KVER='' KERNEL='' KHEADERS='' KCONFIG='' KMODULES='' BUSYBOX=''
step_host
step_qemu
step_virtiofsd
step_busybox
step_kernel
step_env

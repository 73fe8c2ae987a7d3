#!/bin/bash
# Fuzzes the request decoders for a bounded time with cargo-fuzz and
# libFuzzer, on the stable toolchain: the virtio-famfs server
# (fuzz/fuzz_targets/request.rs) and the virtio-fs FUSE server
# (fuzz/fuzz_targets/fuse.rs), which share the time.
#
# Usage: scripts/fuzz.sh [SECONDS [TARGET...]]   (default 60, all targets)
#
# Installs cargo-fuzz if it is missing, builds the targets, runs each from
# its committed seeds (fuzz/seeds/TARGET) plus the local corpus
# (fuzz/corpus/TARGET, kept between runs, not committed), and exits
# non-zero if libFuzzer finds a crash, a timeout or an out-of-memory input.
# The input is then in fuzz/artifacts/TARGET/; reproduce with
#   cargo fuzz run --sanitizer none TARGET fuzz/artifacts/TARGET/<file>
#
# Environment:
#   FUZZ_SANITIZER    none (default) or address; address needs -Z flags
#                     and so sets RUSTC_BOOTSTRAP=1 for the build
#   FUZZ_TARGET_DIR   cargo target dir; default fuzz/target, or under CI
#                     (CI set) ~/.cache/vhost-famfs/fuzz-target, outside the
#                     fresh clone, so that later runs reuse the dependencies
#   FAMFS_FUZZ_STRICT log|0: report the finer spec rules of section 7.15
#                     without failing, or skip them (see fuzz/README.md)
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-60}"
case "$secs" in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
sanitizer="${FUZZ_SANITIZER:-none}"
if [ -n "${CI:-}" ]; then
    target_dir="${FUZZ_TARGET_DIR:-$HOME/.cache/vhost-famfs/fuzz-target}"
else
    target_dir="${FUZZ_TARGET_DIR:-fuzz/target}"
fi
cargo_fuzz_version=0.13.2

step() { printf '\n==> %s\n' "$*" >&2; }
start=$SECONDS

if ! cargo fuzz --version >/dev/null 2>&1; then
    step "installing cargo-fuzz $cargo_fuzz_version"
    # A debug build installs faster; cargo-fuzz only drives cargo.
    cargo install --locked --debug --version "$cargo_fuzz_version" cargo-fuzz
fi
cargo fuzz --version >&2

if [ "$sanitizer" != none ]; then
    # Sanitizers need -Zsanitizer; let the stable compiler accept it.
    export RUSTC_BOOTSTRAP=1
fi
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(request fuse)
# Split the budget: the total stays SECONDS whatever the number of targets.
per=$(( (secs + ${#targets[@]} - 1) / ${#targets[@]} ))

for t in "${targets[@]}"; do
    args=(--sanitizer "$sanitizer" --target-dir "$target_dir" "$t")
    step "building the fuzz target $t (sanitizer: $sanitizer)"
    cargo fuzz build "${args[@]}"
    mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t"
    step "fuzzing $t for ${per}s"
    # -timeout: an input that takes seconds is a hang, not a slow input.
    if ! cargo fuzz run "${args[@]}" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$per" -timeout=10 -max_len=4096 -print_final_stats=1; then
        echo "fuzz: libFuzzer found a failing input in $t (see above and fuzz/artifacts/$t/)" >&2
        exit 1
    fi
done
step "fuzzing passed ($((SECONDS - start))s in all)"

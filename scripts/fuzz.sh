#!/bin/bash
# Fuzzes the virtio-famfs request decoder (fuzz/fuzz_targets/request.rs)
# for a bounded time with cargo-fuzz and libFuzzer, on the stable toolchain.
#
# Usage: scripts/fuzz.sh [SECONDS]        (default 60)
#
# Installs cargo-fuzz if it is missing, builds the target, runs it from the
# committed seeds (fuzz/seeds/request) plus the local corpus
# (fuzz/corpus/request, kept between runs, not committed), and exits
# non-zero if libFuzzer finds a crash, a timeout or an out-of-memory input.
# The input is then in fuzz/artifacts/request/; reproduce with
#   cargo fuzz run --sanitizer none request fuzz/artifacts/request/<file>
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
args=(--sanitizer "$sanitizer" --target-dir "$target_dir" request)

step "building the fuzz target (sanitizer: $sanitizer)"
cargo fuzz build "${args[@]}"

mkdir -p fuzz/corpus/request
step "fuzzing for ${secs}s"
# -timeout: an input that takes seconds is a hang, not a slow input.
if ! cargo fuzz run "${args[@]}" fuzz/corpus/request fuzz/seeds/request -- \
    -max_total_time="$secs" -timeout=10 -max_len=4096 -print_final_stats=1; then
    echo "fuzz: libFuzzer found a failing input (see above and fuzz/artifacts/request/)" >&2
    exit 1
fi
step "fuzzing passed ($((SECONDS - start))s in all)"

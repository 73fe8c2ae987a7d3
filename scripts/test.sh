#!/bin/bash
# Runs every test of the project: style checks, unit, integration and
# protocol tests, and (when present) the real-guest tests.
# Usage: scripts/test.sh        (from anywhere; CI runs it through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "toolchain"
cargo --version >&2
for c in rustfmt clippy; do
    if ! cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1; then
        rustup component add "$c"
    fi
done

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (debug)"
cargo test --workspace --locked

step "benchmarks build and start"
cargo bench --workspace --locked --no-run

step "fuzzing the request decoders (bounded)"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}"

if [ -x tests/vm/run-all.sh ]; then
    step "real-guest tests"
    tests/vm/run-all.sh
fi

step "all tests passed"

#!/bin/bash
# Every real-guest test: provisions what it needs (cached), then runs the
# driver scenarios and the multi-VM sharing scenarios. Part of
# scripts/test.sh, hence of CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
t0=$SECONDS
tests/vm/provision.sh
tests/vm/run-driver-tests.sh
if [ -x tests/vm/run-sharing-tests.sh ]; then
    tests/vm/run-sharing-tests.sh
fi
tests/vm/run-virtiofs-tests.sh
tests/vm/run-dax-tests.sh
tests/vm/run-pmem-tests.sh
tests/vm/run-readonly-pmem-tests.sh
echo "real-guest tests: PASS in $((SECONDS - t0))s"

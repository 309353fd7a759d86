#!/usr/bin/env bash
# The test command of the README: set up what is missing, then run the fast
# suite and, as a separate step that must also pass, the slow synthesis and
# long-simulation tests. Extra arguments go to both pytest runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ELIGO_ROOT"

run_pytest() {
    local step="$1"; shift
    local status=0
    echo "== eligo tests: $step =="
    python -m pytest "$@" || status=$?
    # pytest exits 5 when it collected nothing: an empty run is a failure here.
    if [ "$status" -eq 5 ]; then echo "error: $step ran no test" >&2; exit 1; fi
    [ "$status" -eq 0 ] || { echo "error: $step failed (pytest exit $status)" >&2; exit "$status"; }
}

eligo doctor
run_pytest "fast suite" -v -m "not slow" -n "${ELIGO_TEST_WORKERS:-2}" "$@"
run_pytest "slow suite (synthesis, long simulations)" -v -m slow "$@"

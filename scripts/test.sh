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

# pynq pins numpy 1.26 and an old setuptools, so its driver runs in an environment
# of its own (versions in constraints-pynq.txt), where its absence is a failure.
PYNQ_VENV="$ELIGO_ROOT/.venv-pynq"
pynq_want="$(sha256sum "$ELIGO_ROOT/constraints-pynq.txt" | cut -d' ' -f1)"
if [ "$(cat "$PYNQ_VENV/.eligo-installed" 2>/dev/null)" != "$pynq_want" ]; then
    say "installing the pynq environment into $PYNQ_VENV"
    "$PYTHON" -m venv "$PYNQ_VENV"
    "$PYNQ_VENV/bin/pip" install -q --disable-pip-version-check "torch==$(grep '^torch==' "$ELIGO_ROOT/constraints-pynq.txt" | cut -d= -f3)"
    "$PYNQ_VENV/bin/pip" install -q --disable-pip-version-check -c "$ELIGO_ROOT/constraints-pynq.txt" pynq "setuptools<=80" pytest
    echo "$pynq_want" > "$PYNQ_VENV/.eligo-installed"
fi
echo "== eligo tests: pynq driver in its own environment =="
pynq_status=0
PYTHONPATH="$ELIGO_ROOT/sw" ELIGO_REQUIRE_PYNQ=1 "$PYNQ_VENV/bin/python" -m pytest -v -p no:cacheprovider \
    tests/test_driver_pynq.py || pynq_status=$?
[ "$pynq_status" -eq 0 ] || { echo "error: pynq driver tests failed (pytest exit $pynq_status)" >&2; exit 1; }

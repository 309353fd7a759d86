# Sourced by scripts/main.sh and scripts/test.sh: make a fresh Debian/Ubuntu
# machine ready, idempotently. Installs Icarus Verilog with apt-get when it is
# missing, creates .venv with the pinned Python packages, and exports the
# tool variables the simulators and synthesis flow need.
set -euo pipefail

ELIGO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ELIGO_VENV:-$ELIGO_ROOT/.venv}"
PYTHON="${ELIGO_PYTHON:-python3}"

say() { printf '[eligo setup] %s\n' "$*" >&2; }
die() { printf '[eligo setup] error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo -n "$@" || die "sudo failed; run as root: $*"
    else die "need root to run: $*"; fi
}

ensure_system_packages() {
    if command -v iverilog >/dev/null 2>&1 && command -v g++ >/dev/null 2>&1 && command -v make >/dev/null 2>&1; then
        return
    fi
    command -v apt-get >/dev/null 2>&1 || die "Icarus Verilog, g++ and make are required and apt-get is not available: install 'iverilog', 'g++' and 'make' with your package manager"
    say "installing Icarus Verilog, g++ and make with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get install -y -q iverilog g++ make >/dev/null 2>&1 || {
        as_root apt-get update -q >/dev/null 2>&1 || true
        as_root apt-get install -y -q iverilog g++ make >/dev/null || die "apt-get could not install iverilog g++ make"
    }
    command -v iverilog >/dev/null 2>&1 || die "iverilog still missing after apt-get"
}

ensure_venv() {
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "Python >= 3.11 is required ($PYTHON is $("$PYTHON" --version 2>&1))"
    [ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
    local stamp="$VENV/.eligo-installed"
    local want
    want="$(cat "$ELIGO_ROOT/pyproject.toml" "$ELIGO_ROOT/constraints.txt" | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        say "installing pinned Python packages into $VENV (first time takes a few minutes)"
        # torch comes first and alone, so no resolver can swap in a CUDA build.
        "$VENV/bin/pip" install -q --disable-pip-version-check "torch==$(grep '^torch==' "$ELIGO_ROOT/constraints.txt" | cut -d= -f3 | cut -d+ -f1)"
        "$VENV/bin/pip" install -q --disable-pip-version-check -c "$ELIGO_ROOT/constraints.txt" -e "$ELIGO_ROOT[dev]"
        echo "$want" > "$stamp"
    fi
}

ensure_system_packages
ensure_venv
export PATH="$VENV/bin:$PATH"
export YOWASP_CACHE_DIR="${YOWASP_CACHE_DIR:-$HOME/.cache/yowasp}"
export PYTHONUNBUFFERED=1

#!/usr/bin/env bash
# The main job of the README: set up what is missing, then run eligo's
# flagship demo on the simulated accelerator. Extra arguments go to it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ELIGO_ROOT"
exec eligo demo "$@"

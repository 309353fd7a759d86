#!/usr/bin/env bash
# The main job of the README: set up what is missing, then train on chip,
# online, on the simulated accelerator (the bit-exact model behind the
# driver's register map) with an embedded event data set. Extra arguments go
# to `eligo train` and override the defaults below (e.g. --dataset gestures).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ELIGO_ROOT"
exec eligo train --backend model --rule stllr --dataset digits --epochs 10 --seed 0 --out runs/main "$@"

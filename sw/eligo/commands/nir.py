"""``eligo nir export|import``: the chip's network to a NIR file, and a NIR file to the chip's config and weights.

The chip's weights travel as ``weights.npz`` (``layer0``, ``layer1``, …: integer ``[n_in, n_out]``, the
readout last) next to its ``config.json``: what ``import`` writes, ``export`` reads.
"""

from __future__ import annotations

import sys
from pathlib import Path

EXIT_USAGE = 2


def register(subparsers) -> None:
    parser = subparsers.add_parser("nir", help="export the chip's network to NIR, or initialise it from a NIR graph")
    actions = parser.add_subparsers(dest="nir_action", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="write the chip's network (float meaning, config as metadata)")
    export.add_argument("--config", type=Path, help="AcceleratorConfig JSON (default: the default config)")
    export.add_argument("--weights", type=Path, help="weights.npz to export (default: the seeded initial weights)")
    export.add_argument("--seed", type=int, default=0, help="seed of the initial weights when no --weights")
    export.add_argument("--out", type=Path, required=True, help="the .nir file to write")
    export.set_defaults(func=run_export)
    imp = actions.add_parser("import", help="quantise a NIR graph into config.json + weights.npz, with a report")
    imp.add_argument("graph", type=Path, help="the .nir file to read")
    imp.add_argument("--config", type=Path,
                     help="AcceleratorConfig JSON to fit (default: the graph's own, else the default shaped to it)")
    imp.add_argument("--out", type=Path, required=True, help="directory for config.json and weights.npz")
    imp.set_defaults(func=run_import)


def _read_config(path: Path | None):
    from eligo.config import AcceleratorConfig

    return AcceleratorConfig.from_json(path.read_text()) if path else None


def run_export(args) -> int:
    import nir
    import numpy as np
    import torch

    from eligo.config import AcceleratorConfig, ConfigError
    from eligo.fixed.model import FixedModel, initial_weights
    from eligo.nir_io import export_model

    try:
        cfg = _read_config(args.config) or AcceleratorConfig()
        if args.weights:
            with np.load(args.weights) as stored:
                weights = [torch.from_numpy(stored[f"layer{i}"]) for i in range(len(cfg.network.layer_sizes) - 1)]
        else:
            weights = initial_weights(cfg, args.seed)
        model = FixedModel(cfg, weights)
    except (OSError, KeyError, ValueError, ConfigError) as exc:
        print(f"eligo nir export: {exc}", file=sys.stderr)
        return EXIT_USAGE
    args.out.parent.mkdir(parents=True, exist_ok=True)
    nir.write(args.out, export_model(model))
    print(f"wrote {args.out}: layers {cfg.network.layer_sizes}")
    return 0


def run_import(args) -> int:
    import nir
    import numpy as np

    from eligo.config import ConfigError
    from eligo.nir_io import import_model

    try:
        graph = nir.read(args.graph)
        model, report = import_model(graph, _read_config(args.config))
    except (OSError, ValueError, ConfigError) as exc:
        print(f"eligo nir import: {exc}", file=sys.stderr)
        return EXIT_USAGE
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "config.json").write_text(model.cfg.to_json())
    layers = len(model.cfg.network.layer_sizes) - 1
    np.savez(args.out / "weights.npz", **{f"layer{i}": model.weights(i).numpy() for i in range(layers)})
    print(f"layers {model.cfg.network.layer_sizes}, quantised to {model.cfg.weight_bits} bits:\n{report}")
    print(f"wrote {args.out / 'config.json'} and {args.out / 'weights.npz'}")
    return 0

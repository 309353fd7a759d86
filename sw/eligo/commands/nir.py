"""``eligo nir export|import``: the chip's network to a NIR file, and a NIR file to the chip.

The chip travels as a directory holding ``config.json`` and ``weights.npz`` (``eligo.nir_io.write_chip``):
what ``import`` writes and ``export --chip`` reads.
"""

from __future__ import annotations

import sys
from pathlib import Path

EXIT_USAGE = 2


def register(subparsers) -> None:
    parser = subparsers.add_parser("nir", help="export the chip's network to NIR, or initialise it from a NIR graph")
    actions = parser.add_subparsers(dest="nir_action", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="write the chip's network (float meaning, config as metadata)")
    source = export.add_mutually_exclusive_group()
    source.add_argument("--chip", type=Path, help="directory with config.json and weights.npz to export")
    source.add_argument("--config", type=Path,
                        help="AcceleratorConfig JSON whose seeded initial weights to export (default: the default config)")
    export.add_argument("--seed", type=int, default=0, help="seed of the initial weights (with --config)")
    export.add_argument("--out", type=Path, required=True, help="the .nir file to write")
    export.set_defaults(func=run_export)
    imp = actions.add_parser("import", help="quantise a NIR graph into a chip directory, with a report")
    imp.add_argument("graph", type=Path, help="the .nir file to read")
    imp.add_argument("--config", type=Path,
                     help="AcceleratorConfig JSON to fit (default: the graph's own, else the default shaped to it)")
    imp.add_argument("--out", type=Path, required=True, help="directory for config.json and weights.npz")
    imp.set_defaults(func=run_import)


def run_export(args) -> int:
    import nir

    from eligo.config import AcceleratorConfig, ConfigError
    from eligo.fixed.model import FixedModel, initial_weights
    from eligo.nir_io import export_model, read_chip

    try:
        if args.chip:
            model = read_chip(args.chip)
        else:
            cfg = AcceleratorConfig.from_json(args.config.read_text()) if args.config else AcceleratorConfig()
            model = FixedModel(cfg, initial_weights(cfg, args.seed))
    except (OSError, KeyError, ValueError, ConfigError) as exc:
        print(f"eligo nir export: {exc}", file=sys.stderr)
        return EXIT_USAGE
    args.out.parent.mkdir(parents=True, exist_ok=True)
    nir.write(args.out, export_model(model))
    print(f"wrote {args.out}: layers {model.cfg.network.layer_sizes}")
    return 0


def run_import(args) -> int:
    import nir

    from eligo.config import AcceleratorConfig, ConfigError
    from eligo.nir_io import import_model, write_chip

    try:
        cfg = AcceleratorConfig.from_json(args.config.read_text()) if args.config else None
        model, report = import_model(nir.read(args.graph), cfg)
    except (OSError, ValueError, ConfigError) as exc:
        print(f"eligo nir import: {exc}", file=sys.stderr)
        return EXIT_USAGE
    write_chip(model, args.out)
    print(f"layers {model.cfg.network.layer_sizes}, quantised to {model.cfg.weight_bits} bits:\n{report}")
    print(f"wrote {args.out / 'config.json'} and {args.out / 'weights.npz'}")
    return 0

"""``eligo registers``: write (or check) the register documentation rendered from ``eligo.regmap``."""

from __future__ import annotations

import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("registers", help="write docs/registers.md from the register map")
    parser.add_argument("--config", type=Path, help="AcceleratorConfig JSON file (default: the default config)")
    parser.add_argument("--output", type=Path, default=Path("docs/registers.md"),
                        help="where to write the Markdown (default: %(default)s)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when the file differs from the rendering")
    parser.set_defaults(func=run)


def run(args) -> int:
    from eligo.config import AcceleratorConfig, ConfigError
    from eligo.regmap import build_register_map, render_markdown

    try:
        config = AcceleratorConfig.from_json(args.config.read_text()) if args.config else AcceleratorConfig()
    except (OSError, ValueError, ConfigError) as exc:
        print(f"cannot read configuration {args.config}: {exc}", file=sys.stderr)
        return 2
    text = render_markdown(build_register_map(config))
    if args.check:
        current = args.output.read_text() if args.output.exists() else None
        if current != text:
            print(f"{args.output} is stale; run 'eligo registers' to regenerate it", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0

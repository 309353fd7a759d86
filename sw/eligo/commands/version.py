"""``eligo version``: print the package version."""

from eligo import __version__


def register(subparsers) -> None:
    parser = subparsers.add_parser("version", help="print the eligo version")
    parser.set_defaults(func=run)


def run(args) -> int:
    print(__version__)
    return 0

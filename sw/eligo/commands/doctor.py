"""``eligo doctor``: report every tool of the flow and what is missing."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser("doctor", help="report tool versions and what is missing")
    parser.set_defaults(func=run)


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from eligo.toolchain import doctor

    reports = doctor()
    table = Table(title="eligo toolchain")
    table.add_column("tool")
    table.add_column("version")
    table.add_column("note")
    for report in reports:
        table.add_row(report.name, report.version or "[red]missing[/red]", report.detail)
    Console().print(table)
    missing = [r.name for r in reports if not r.found]
    if missing:
        Console(stderr=True).print(f"[red]missing:[/red] {', '.join(missing)}")
        return 1
    return 0

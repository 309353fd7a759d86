"""The documentation site: every page is in the navigation, and ``mkdocs build --strict`` passes (no warnings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _nav_pages(nav) -> list[str]:
    pages = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += _nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_every_page_is_in_the_navigation_and_every_entry_exists():
    nav = _nav_pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"])
    pages = {str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md")}
    assert not pages - set(nav), f"docs pages missing from the nav of mkdocs.yml: {sorted(pages - set(nav))}"
    assert not set(nav) - pages, f"mkdocs.yml nav entries with no page: {sorted(set(nav) - pages)}"
    assert len(nav) == len(set(nav)), "a page appears twice in the nav"


def test_site_builds_without_warnings(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                             str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}{result.stderr}"
    assert (tmp_path / "site" / "nir" / "index.html").is_file()
    assert (tmp_path / "site" / "troubleshooting" / "index.html").is_file()

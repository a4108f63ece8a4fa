"""The docs build without a broken link, the README's links lead somewhere, the feeds reference is whole."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from feeds.registry import adapters

ROOT = Path(__file__).resolve().parent.parent


def test_the_docs_build_strictly(tmp_path):
    # strict: a link to a missing page or heading, or a page left out of the nav, fails the build
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site" / "operators" / "feeds" / "index.html").exists()


def test_every_link_of_the_readme_leads_to_a_file():
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", (ROOT / "README.md").read_text(encoding="utf-8"))
    local = [t for t in targets if "://" not in t]
    assert {"docs/screenshot.png", "docs/screenshot-scenario.png", "docs/index.md"} <= set(local)
    assert [t for t in local if not (ROOT / t).exists()] == []


def test_the_feeds_reference_names_every_key_of_every_type():
    page = (ROOT / "docs" / "operators" / "feeds.md").read_text(encoding="utf-8")
    rows = {m[0]: m[1] for m in re.findall(r"^\| `(\w+)` \| (.*) \|$", page, re.MULTILINE)}
    assert rows.keys() == adapters().keys()
    for kind, adapter in adapters().items():
        missing = [f for f in adapter.config.model_fields if f != "type" and f"`{f}`" not in rows[kind]]
        assert not missing, f"{kind}: {missing} not in docs/operators/feeds.md"

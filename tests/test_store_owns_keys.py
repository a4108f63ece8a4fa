"""The store owns the Redis format: no other module spells a ``cv:`` key."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cityvitals", "indicators", "feeds", "dashboard", "bench", "wiring")
STORE = ROOT / "cityvitals" / "store.py"


def key_literals(path: Path, root: Path = ROOT) -> list[str]:
    """``file:line: text`` of every string literal (f-string parts too) in ``path`` that starts a ``cv:`` key."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [f"{path.relative_to(root)}:{node.lineno}: {node.value!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("cv:")]


def test_no_module_but_the_store_spells_a_redis_key():
    sources = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py")) if p != STORE]
    assert len(sources) > 50  # the walk found the tree
    assert [hit for path in sources for hit in key_literals(path)] == []


def test_the_check_sees_a_key_spelled_by_hand(tmp_path):
    spelled = tmp_path / "spelled.py"
    spelled.write_text('KEY = "cv:meta"\nLOCK = f"cv:lock:{role}"\nTEXT = "see cv:meta"\n', encoding="utf-8")
    assert key_literals(spelled, tmp_path) == ["spelled.py:1: 'cv:meta'", "spelled.py:2: 'cv:lock:'"]

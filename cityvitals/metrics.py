"""The metric registry: every metric a feed may send and an indicator may read.

It is part of the contract between feeds and the engine: feeds refuse samples of metrics
not listed here, and the catalog check refuses indicators that read unknown metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

REGISTRY_PATH = Path(__file__).with_name("metrics.yaml")


@dataclass(frozen=True)
class Metric:
    """One measured quantity: id, bilingual name, unit and the range a real value can take."""

    id: str
    name_zh: str
    name_en: str
    unit: str
    min: float
    max: float
    description: str = ""


def parse_registry(text: str, source: str = "metrics.yaml") -> dict[str, Metric]:
    """Parse registry YAML; raises ValueError naming the entry on a malformed one."""
    out: dict[str, Metric] = {}
    for i, raw in enumerate(yaml.safe_load(text) or []):
        try:
            metric = Metric(
                id=raw["id"], name_zh=raw["name"]["zh"], name_en=raw["name"]["en"], unit=raw.get("unit", ""),
                min=float(raw.get("min", float("-inf"))), max=float(raw.get("max", float("inf"))),
                description=raw.get("description", ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{source}: metric #{i + 1}: missing or wrong field {exc}") from None
        if metric.id in out:
            raise ValueError(f"{source}: metric #{i + 1}: duplicate id {metric.id!r}")
        out[metric.id] = metric
    return out


@cache
def registry() -> dict[str, Metric]:
    """The shipped metric registry."""
    return parse_registry(REGISTRY_PATH.read_text(encoding="utf-8"), str(REGISTRY_PATH))

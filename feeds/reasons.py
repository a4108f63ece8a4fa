"""Short kinds of refusal reasons, so counts by reason stay few and stable while the texts carry the values."""

from __future__ import annotations

import re

# First match wins; each pattern is matched at the start of a reason (after any "row N: " prefix).
_KINDS: tuple[tuple[str, str], ...] = (
    ("missing field", "missing_field"),
    ("expected an object", "not_an_object"),
    ("unknown metric", "unknown_metric"),
    ("unknown area", "unknown_area"),
    ("point ", "outside_grids"),
    ("lon and lat", "bad_point"),
    ("feed ", "bad_point"),
    ("ts must be", "bad_time"),
    ("value must be", "bad_value"),
    ("value ", "out_of_range"),
    ("ts .* before 2000", "too_old"),
    ("ts .* in the future", "in_the_future"),
    ("time .* does not exist", "dst_gap"),
    ("time .* happens twice", "dst_overlap"),
    (r"\w+ .* of column .* is not in its map", "unmapped_value"),
    (r"order .*: impossible timeline", "impossible_timeline"),
    (r"order .*: (\w+ time .* unreadable|no received time)", "bad_time"),
)
_ROW = re.compile(r"^(?:row|line) \d+: ")


def reason_kind(reason: str) -> str:
    """Return the kind of a refusal reason ("unknown_area", "too_old"...), "other" when none fits."""
    text = _ROW.sub("", reason)
    for pattern, kind in _KINDS:
        if re.match(pattern, text):
            return kind
    return "other"

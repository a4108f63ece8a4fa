r"""Text from outside, checked before it reaches a database, a log or an answer.

JSON can carry what UTF-8 cannot encode (a lone surrogate, ``"\ud800"``) and what PostgreSQL
refuses (NUL); a client can send megabytes where a column holds 64 characters. Inputs are refused
with a reason (:func:`text_problem`); what is only recorded (an audit entry, a reason quoting the
input) is made safe instead (:func:`printable`, :func:`shown`).
"""

from __future__ import annotations

import re

SURROGATE = re.compile("[\ud800-\udfff]")
CONTROL = re.compile("[\x00-\x1f\x7f]")


def text_problem(value: object, what: str, limit: int) -> str | None:
    """Why ``value`` is no acceptable non-empty single-line text of at most ``limit`` characters; None if it is."""
    if not isinstance(value, str):
        return f"{what} must be text, got {type(value).__name__}"
    if not value:
        return f"{what} is empty"
    if len(value) > limit:
        return f"{what} has {len(value)} characters; at most {limit}"
    if SURROGATE.search(value):
        return f"{what} holds a lone surrogate (not Unicode text)"
    if CONTROL.search(value):
        return f"{what} holds a control character"
    return None


def printable(value: object, limit: int = 200) -> str:
    """``value`` as text every database and log takes: surrogates and control characters replaced, clipped."""
    text = value if isinstance(value, str) else str(value)
    text = CONTROL.sub("\ufffd", SURROGATE.sub("\ufffd", text[: limit + 1]))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown(value: object, limit: int = 80) -> str:
    """``repr(value)`` for a reason quoting the input, at most ``limit`` characters."""
    return printable(repr(value[: limit + 1] if isinstance(value, str) else value), limit)

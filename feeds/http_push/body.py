"""A push request's body: a JSON array or NDJSON read into items, within the bounds of :class:`PushLimits`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from feeds.ingest import Refusal

JSON_TYPES = {"application/json"}
NDJSON_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}


@dataclass(frozen=True)
class PushLimits:
    """Bounds on one push request and on how often a source may push."""

    max_bytes: int = 5_000_000
    max_items: int = 50_000
    rate: str = "600 per minute"
    unknown_token_rate: str = "60 per minute"  # 401s per address before it is refused outright


class HugeInteger:
    """An integer literal of more digits than Python converts (4,300): an item's value that is refused."""

    def __init__(self, literal: str) -> None:
        self.digits = len(literal.lstrip("-"))

    def __repr__(self) -> str:
        return f"<an integer of {self.digits} digits>"


def _integer(literal: str) -> int | HugeInteger:
    try:
        return int(literal)
    except ValueError:  # "Exceeds the limit (4300 digits) for integer string conversion"
        return HugeInteger(literal)


def _loads(text: str) -> Any:
    return json.loads(text, parse_int=_integer)


class BodyError(Exception):
    """The request body cannot be read as samples at all."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_body(body: bytes, content_type: str,
               limits: PushLimits) -> tuple[list[tuple[int, Any]], list[tuple[Refusal, str]]]:
    """Items with their positions from a JSON array or NDJSON body, and unreadable NDJSON lines.

    An NDJSON item's position is its line number minus one; each unreadable line comes with its refusal.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(400, f"body is not UTF-8: byte {exc.start}") from None
    if content_type in JSON_TYPES:
        try:
            data = _loads(text)
        except json.JSONDecodeError as exc:
            raise BodyError(400, f"body is not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        except RecursionError:  # a few kB of "[[[[..." exhausts the recursive JSON decoder
            raise BodyError(400, "body nests too deeply to be samples") from None
        items = data if isinstance(data, list) else [data]
        if len(items) > limits.max_items:
            raise BodyError(413, f"{len(items)} items exceed the limit of {limits.max_items} per request")
        return list(enumerate(items)), []
    if content_type in NDJSON_TYPES:
        items, bad = [], []
        for i, line in enumerate(text.splitlines()):
            if not line.strip():
                continue
            try:
                items.append((i, _loads(line)))
            except json.JSONDecodeError as exc:
                bad.append((Refusal(i, f"line {i + 1}: not valid JSON at column {exc.colno}: {exc.msg}"), line))
            except RecursionError:
                bad.append((Refusal(i, f"line {i + 1}: nests too deeply to be a sample"), line))
        if len(items) + len(bad) > limits.max_items:
            raise BodyError(413, f"{len(items) + len(bad)} lines exceed the limit of {limits.max_items} per request")
        return items, bad
    raise BodyError(415, f"content type {content_type or '(none)'!r} is not one of "
                         f"{', '.join(sorted(JSON_TYPES | NDJSON_TYPES))}")

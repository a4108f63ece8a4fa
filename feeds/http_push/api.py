"""HTTP push adapter: ``POST /api/v1/samples`` (and ``/api/v1/events``) with a JSON array or NDJSON.

One bearer token per source.

Responses are JSON. Every item is answered for itself: a lone surrogate, a NUL, a string of
megabytes or an integer of more digits than Python will convert is a reason for that item, never
an error for the batch. 200: all items stored; 207: some stored, the others listed with index and
reason; 422: none stored. 400 unreadable body, 401 no or unknown token, 413 too large,
415 unknown content type, 429 over the rate limit (per token; and per address for unknown tokens,
so guessing tokens is slow and costs no SQL). Refused items go to the dead-letter stream.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from flask import Blueprint, Flask, Response, jsonify, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from cityvitals.tokens import TokenVerifier, token_hash
from feeds.http_push.body import BodyError, PushLimits, parse_body
from feeds.ingest import Ingestor, IngestResult, Refusal

ROUTE = "/api/v1/samples"
# work-order events (feeds/workorders/events.py) and answers to tasks (feeds/workorders/answers.py),
# same auth, limits and replies
EVENTS_ROUTE = "/api/v1/events"


def _bearer() -> str | None:
    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def rate_key() -> str:
    """Rate-limit per token (so one noisy source cannot starve the others), per address without one."""
    token = _bearer()
    return f"token:{token_hash(token)[:16]}" if token else f"addr:{get_remote_address()}"


def _body(limits: PushLimits) -> bytes:
    request.max_content_length = limits.max_bytes + 1  # above the server's limit for pages; read to the byte
    if request.content_length is not None and request.content_length > limits.max_bytes:
        raise BodyError(413, f"payload of {request.content_length} bytes exceeds the limit of {limits.max_bytes}")
    body = request.stream.read(limits.max_bytes + 1)
    if len(body) > limits.max_bytes:
        raise BodyError(413, f"payload exceeds the limit of {limits.max_bytes} bytes")
    return body


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify(error=message), status


class Sink(Protocol):
    """Where a source's pushed items go: an Ingestor for samples, a work-order pipeline for events."""

    feed: str

    def submit(self, items: Sequence[Any]) -> IngestResult:
        """Store the good items; refuse the others with index and reason."""

    def refuse(self, bad: list[tuple[str, str]]) -> None:
        """Count and dead-letter input refused before it became an item."""


def _receive(verifier: TokenVerifier, sink_for: Callable[[str, bytes], Sink],
             limits: PushLimits) -> tuple[Response, int]:
    token = _bearer()
    source = verifier.source_of(token) if token else None
    if source is None:
        resp, status = _error(401, "a valid ingest token is required: Authorization: Bearer <token>"
                              if token is None else "unknown or revoked ingest token")
        resp.headers["WWW-Authenticate"] = 'Bearer realm="cityvitals"'
        return resp, status
    try:
        body = _body(limits)
        indexed, unparsed = parse_body(body, request.mimetype, limits)
    except BodyError as exc:
        return _error(exc.status, str(exc))
    sink = sink_for(source, body)
    result = sink.submit([item for _, item in indexed])
    refused = [Refusal(indexed[r.index][0], r.reason) for r in result.refused]
    sink.refuse([(r.reason, line) for r, line in unparsed])
    refused = sorted(refused + [r for r, _ in unparsed], key=lambda r: r.index)
    status = 200 if not refused else 207 if result.accepted else 422
    return jsonify(feed=sink.feed, accepted=result.accepted,
                   refused=[{"index": r.index, "reason": r.reason} for r in refused]), status


def _refused_token(resp: Response) -> bool:
    return resp.status_code == 401


def push_blueprint(verifier: TokenVerifier, ingestor_for: Callable[[str], Ingestor], limiter: Limiter,
                   limits: PushLimits = PushLimits(),
                   events_for: Callable[[str, bytes], Sink] | None = None) -> Blueprint:
    """The push API: ``ingestor_for(source)`` stores samples, ``events_for(source, body)`` work-order events.

    ``events_for`` sees the raw body: a sink may check a signature over it (answers to tasks do).
    """
    bp = Blueprint("push", __name__)
    per_source = limiter.limit(limits.rate, key_func=rate_key)
    # counted only when the token was refused, so a feed with a good token never meets it
    guessing = limiter.limit(limits.unknown_token_rate, key_func=lambda: f"refused:{get_remote_address()}",
                             deduct_when=_refused_token)

    @bp.errorhandler(429)
    def over_limit(exc: Exception) -> tuple[Response, int]:
        return _error(429, f"rate limit exceeded: {exc.description} (per source; per address for refused tokens)")

    @bp.post(ROUTE)
    @per_source
    @guessing
    def push_samples():  # noqa: ANN202
        return _receive(verifier, lambda source, _body: ingestor_for(source), limits)

    if events_for is not None:
        @bp.post(EVENTS_ROUTE)
        @per_source
        @guessing
        def push_events():  # noqa: ANN202
            return _receive(verifier, events_for, limits)

    return bp


def install_push_api(server: Flask, verifier: TokenVerifier, ingestor_for: Callable[[str], Ingestor],
                     limiter: Limiter, limits: PushLimits = PushLimits(),
                     events_for: Callable[[str, bytes], Sink] | None = None) -> None:
    """Mount the push API on ``server``, rate-limited by ``limiter``."""
    server.register_blueprint(push_blueprint(verifier, ingestor_for, limiter, limits, events_for))

"""Checks every request meets before a view reads it: the body's size, a Dash callback's shape; plain answers.

Every route reads at most MAX_BODY bytes (the push API sets its own, larger limit per request), so a
60 MB callback body is refused with 413 before it is read. A callback body that is not what Dash's
renderer sends is refused with 400 and a reason, not a 500 and a traceback. No answer carries an
exception's text: a 500 says only that the error is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

from cityvitals.observability import CALLBACK_PATH

log = logging.getLogger(__name__)
MAX_BODY = 1_000_000  # a callback of ours sends a few kB; a whole warnings table stays far below this


def _dependency_problem(dep: Any, where: str) -> str | None:
    """Why one input, state or output entry is not ``{"id": ..., "property": ...}`` (or a list of them)."""
    entries = dep if isinstance(dep, list) else [dep]  # a pattern-matching dependency sends a list
    ok = all(isinstance(d, dict) and isinstance(d.get("id"), (str, dict)) and isinstance(d.get("property"), str)
             for d in entries)
    return None if ok else f"{where}: each entry needs an id and a property"


def callback_problem(body: Any, outputs: Collection[str]) -> str | None:
    """Why ``body`` is not a callback request of this app; None if it is one."""
    if not isinstance(body, dict):
        return "a callback request is a JSON object"
    output = body.get("output")
    if not isinstance(output, str) or output not in outputs:
        return "no such callback output"
    for field in ("inputs", "state", "changedPropIds"):
        if not isinstance(body.get(field, []), list):
            return f"{field} must be a list"
    if not all(isinstance(p, str) for p in body.get("changedPropIds", [])):
        return "changedPropIds must be a list of strings"
    outputs_field = body.get("outputs", [])
    for field, deps in (("inputs", body.get("inputs", [])), ("state", body.get("state", [])),
                        ("outputs", outputs_field if isinstance(outputs_field, list) else [outputs_field])):
        problem = next(filter(None, (_dependency_problem(d, field) for d in deps)), None)
        if problem:
            return problem
    return None


def install_guards(server: Flask, callback_outputs: Callable[[], Collection[str]]) -> None:
    """Limit every body's size, check callback bodies, and answer errors as JSON without internals."""
    server.config["MAX_CONTENT_LENGTH"] = MAX_BODY

    @server.before_request
    def callback_shape() -> tuple[Response, int] | None:
        if request.path != CALLBACK_PATH or request.method != "POST":
            return None
        problem = callback_problem(request.get_json(silent=True), callback_outputs())
        return (jsonify(error=f"malformed callback request: {problem}"), 400) if problem else None

    @server.errorhandler(413)
    def too_large(exc: HTTPException) -> tuple[Response, int]:
        limit = request.max_content_length
        return jsonify(error=f"request body too large (limit {limit} bytes)"), 413

    @server.errorhandler(InternalServerError)
    def internal(exc: InternalServerError) -> tuple[Response, int]:
        # Flask has logged the traceback; the client learns nothing of the server's insides
        return jsonify(error="internal error; it has been logged"), 500

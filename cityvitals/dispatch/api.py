"""The task API for logged-in people (the wall's dispatch form, the responders' phone page, scripts).

``/api/v1/tasks``: GET lists the tasks the user may see (a responder: their units' only), POST
dispatches one. ``/api/v1/tasks/<id>``: GET the task and its events. ``/api/v1/tasks/<id>/<action>``:
POST one step (sign, redispatch, return, handle, verify, close, reopen, escalate) with JSON
``{"note": ..., "unit": ..., "photo": ...}``. ``/api/v1/tasks/<id>/photo``: POST the image itself
as the body (``Content-Type: image/jpeg``...); the answer names it for the handle step.
``/api/v1/tasks/<id>/below``: GET the units it may be re-dispatched to.

Session cookies and the CSRF header, as for Dash callbacks; every door calls the same commands as
``cityvitals task``. A refusal is JSON ``{"error": ..., "reasons": [...]}`` with 403, 404, 409 or 422.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request, send_from_directory

from cityvitals.dispatch.commands import ACTIONS, Actor, AddPhoto, DispatchContext, DispatchError, DispatchTask
from cityvitals.dispatch.photos import MAX_BYTES, NAME
from cityvitals.dispatch.tasks import OPEN, Task, list_tasks, read_events, read_task
from cityvitals.security import write_allowed

PREFIX = "/api/v1/tasks"
DISPATCH_FIELDS = ("area", "instruction", "task_type", "priority", "due", "unit", "indicator", "group", "value",
                   "threshold", "warning_state", "warning_since")


def _refused(exc: DispatchError) -> tuple[Response, int]:
    return jsonify(error=str(exc), reasons=exc.reasons), exc.status


def _may_see(actor: Actor, task: Task, ctx: DispatchContext) -> bool:
    if actor.role != "responder":
        return actor.role is not None
    return task.unit in actor.units or any(e.unit in actor.units or e.from_unit in actor.units
                                           for e in read_events(ctx.sql, [task.id])[task.id])


def _with_events(ctx: DispatchContext, task: Task) -> dict[str, Any]:
    return {**task.as_dict(), "events": [e.as_dict() for e in read_events(ctx.sql, [task.id])[task.id]]}


def task_blueprint(ctx: DispatchContext, actor: Callable[[], Actor]) -> Blueprint:
    """The task API over ``ctx``; ``actor()`` says who the request's user is."""
    bp = Blueprint("tasks", __name__)

    @bp.before_app_request
    def photo_limit() -> None:
        # before the CSRF check opens the body's stream with the server's 1 MB limit for other requests
        if request.method == "POST" and request.path.startswith(PREFIX) and request.path.endswith("/photo"):
            request.max_content_length = MAX_BYTES + 1

    @bp.before_request
    def rate() -> tuple[Response, int] | None:
        if request.method == "POST" and not write_allowed():
            return jsonify(error="too many actions; try again in a minute"), 429
        return None

    @bp.get(PREFIX)
    def tasks():  # noqa: ANN202
        who = actor()
        if who.role is None:
            return jsonify(error="log in first"), 401
        units = who.units if who.role == "responder" else None
        found = list_tasks(ctx.sql, units=units, statuses=OPEN if request.args.get("open") else None)
        return jsonify(tasks=[t.as_dict() for t in found])

    @bp.post(PREFIX)
    def dispatch():  # noqa: ANN202
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify(error="send a JSON object", reasons=["send a JSON object"]), 400
        unknown = sorted(set(body) - set(DISPATCH_FIELDS))
        if unknown:
            return jsonify(error=f"unknown field(s) {', '.join(unknown)}", reasons=[f"unknown field(s) "
                                                                                    f"{', '.join(unknown)}"]), 422
        try:
            task = DispatchTask(ctx, actor(), **{k: body.get(k) for k in DISPATCH_FIELDS if k in body}).run()
        except DispatchError as exc:
            return _refused(exc)
        return jsonify(_with_events(ctx, task)), 201

    @bp.get(f"{PREFIX}/<int:task_id>")
    def show(task_id: int):  # noqa: ANN202
        task = read_task(ctx.sql, task_id)
        if task is None or not _may_see(actor(), task, ctx):
            return jsonify(error=f"no task {task_id}"), 404
        return jsonify(_with_events(ctx, task))

    @bp.get(f"{PREFIX}/<int:task_id>/below")
    def below(task_id: int):  # noqa: ANN202
        task = read_task(ctx.sql, task_id)
        if task is None or not _may_see(actor(), task, ctx):
            return jsonify(error=f"no task {task_id}"), 404
        holder = ctx.routing.unit(task.unit)
        units = ctx.routing.below(holder) if holder is not None else []
        return jsonify(units=[{"id": u.id, "name_zh": u.name_zh, "name_en": u.name_en} for u in units])

    @bp.post(f"{PREFIX}/<int:task_id>/photo")
    def photo(task_id: int):  # noqa: ANN202
        task, who = read_task(ctx.sql, task_id), actor()
        if task is None or not _may_see(who, task, ctx):
            return jsonify(error=f"no task {task_id}"), 404
        try:
            name = AddPhoto(ctx, who, task_id, request.get_data(cache=False)).run()
        except DispatchError as exc:
            return _refused(exc)
        return jsonify(photo=name), 201

    @bp.get(f"{PREFIX}/<int:task_id>/photo/<name>")
    def photo_file(task_id: int, name: str):  # noqa: ANN202
        task = read_task(ctx.sql, task_id)
        match = NAME.fullmatch(name)
        if (task is None or match is None or int(match["task"]) != task_id or ctx.photos is None
                or not _may_see(actor(), task, ctx)):
            return jsonify(error="no such photo"), 404
        return send_from_directory(ctx.photos, name, max_age=0)

    @bp.post(f"{PREFIX}/<int:task_id>/<action>")
    def step(task_id: int, action: str):  # noqa: ANN202
        if action not in ACTIONS:
            return jsonify(error=f"unknown action {action[:40]!r} (one of {', '.join(ACTIONS)})"), 404
        body = request.get_json(silent=True)
        body = body if isinstance(body, dict) else {}
        extra = {k: body[k] for k in ("unit", "photo") if body.get(k) is not None}
        command = ACTIONS[action](ctx, actor(), task_id, body.get("note"), **extra)
        try:
            task = command.run()
        except DispatchError as exc:
            return _refused(exc)
        return jsonify({**task.as_dict(), "events": [e.as_dict() for e in command.events]})

    return bp


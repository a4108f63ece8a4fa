"""Other systems' answers to the tasks sent to them by webhook, taken on the events API beside work orders.

``POST /api/v1/events`` (the source's bearer token, as for any work-order event) may mix work-order events
with answers. An item with ``task`` is an answer, one step on that task::

    {"task": 12, "step": "signed", "key": "hotline-8812-signed", "by": "agent 7", "note": "..."}

``step`` is ``signed``, ``handled`` or ``returned`` (for the unit holding the task), or ``closed`` (only
once the dispatching level has verified it: a task is never closed unverified). ``key`` is the answer's
Idempotency-Key: an answer sent again with its key is accepted and changes nothing. The request must also
carry ``X-CityVitals-Signature: sha256=<HMAC-SHA256 of the body>`` with the webhook's secret; without it
every answer in the batch is refused, and the work-order events beside them are still taken.

Each answer is the same command as a person's step, by ``webhook:<by>``, so a step out of order is refused
with the command's reason; refused answers are counted and dead-lettered like any refused item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError

from cityvitals.dispatch.commands import (
    Actor,
    CloseTask,
    DispatchContext,
    DispatchError,
    HandleTask,
    ReturnTask,
    SignTask,
)
from cityvitals.dispatch.sql import ANSWER_KEY_WIDTH
from cityvitals.dispatch.tasks import answered, read_task
from cityvitals.dispatch.webhook import SIGNATURE_HEADER, verify
from cityvitals.text import shown, text_problem
from feeds.http_push.api import Sink
from feeds.ingest import IngestResult, Refusal, dump_item

STEPS = {"signed": SignTask, "handled": HandleTask, "returned": ReturnTask, "closed": CloseTask}
FIELDS = ("task", "step", "key", "by", "note")
BY_LIMIT = 48  # "webhook:" and the name fit an actor (64)


def is_answer(item: Any) -> bool:
    """Whether a pushed item is an answer to a task (else it is a work-order event)."""
    return isinstance(item, Mapping) and "task" in item


class TaskAnswers:
    """A Sink for the events API: answers become task steps, everything else goes on to the work orders."""

    def __init__(self, orders: Sink, ctx: DispatchContext, secret: str | None, body: bytes,
                 signature: str | None) -> None:
        self.orders, self.ctx, self.feed = orders, ctx, orders.feed
        if not secret:
            self.unsigned = "this server sends tasks to no other system (CITYVITALS_WEBHOOK_SECRET is unset)"
        elif not verify(secret, body, signature):
            self.unsigned = f"bad or missing {SIGNATURE_HEADER} (HMAC-SHA256 of the body with the webhook's secret)"
        else:
            self.unsigned = None

    def submit(self, items: Sequence[Any]) -> IngestResult:
        """Take the answers as steps and hand the rest to the work orders; every refusal with its index."""
        answers = [i for i, item in enumerate(items) if is_answer(item)]
        others = [i for i in range(len(items)) if not is_answer(items[i])]
        result = self.orders.submit([items[i] for i in others]) if others else IngestResult()
        refused = [Refusal(others[r.index], r.reason) for r in result.refused]
        taken, bad = 0, []
        for i in answers:
            reason = self.answer(items[i])
            if reason is None:
                taken += 1
                continue
            refused.append(Refusal(i, reason))
            bad.append((reason, dump_item(items[i])))
        self.orders.refuse(bad)
        return IngestResult(result.accepted + taken, sorted(refused, key=lambda r: r.index), result.held)

    def refuse(self, bad: list[tuple[str, str]]) -> None:
        """Count and dead-letter input refused before it became an item."""
        self.orders.refuse(bad)

    def answer(self, item: Mapping[str, Any]) -> str | None:
        """Take one answer's step; None if taken (or taken before, with its key), else why not."""
        problem = self.unsigned or _shape_problem(item)
        if problem:
            return f"task answer: {problem}"
        repeated = self._repeated(item)
        if repeated is not False:
            return repeated
        task = read_task(self.ctx.sql, item["task"])
        if task is None:
            return f"task answer: no task {item['task']}"
        # closing takes the dispatching level's right; CloseTask itself refuses a task not verified
        actor = Actor(f"webhook:{item['by']}", "analyst" if item["step"] == "closed" else "responder",
                      frozenset({task.unit}))
        command = STEPS[item["step"]](self.ctx, actor, task.id, item.get("note"), answer_key=item["key"])
        try:
            command.run()
        except (DispatchError, IntegrityError) as exc:
            # the same answer at the same moment in another request may have made the step: then all is well
            repeated = self._repeated(item)
            if repeated is not False:
                return repeated
            return f"task answer: {'; '.join(exc.reasons)}" if isinstance(exc, DispatchError) else \
                f"task answer: task {task.id} could not be stepped; send it again"
        return None

    def _repeated(self, item: Mapping[str, Any]) -> str | None | bool:
        """False if no step carries the answer's key; None if this answer made one; else why the key is wrong."""
        before = answered(self.ctx.sql, item["key"])
        if before is None:
            return False
        return None if before.task_id == item["task"] else \
            f"task answer: key {shown(item['key'])} was task {before.task_id}'s {before.step}"


def _shape_problem(item: Mapping[str, Any]) -> str | None:
    unknown = sorted(str(k) for k in item if k not in FIELDS)
    if unknown:
        return f"unknown field(s) {', '.join(map(shown, unknown))} (an answer has {', '.join(FIELDS)})"
    if isinstance(item["task"], bool) or not isinstance(item["task"], int):
        return f"task must be a task number, got {shown(item['task'])}"
    if item.get("step") not in STEPS:
        return f"step must be one of {', '.join(STEPS)}, got {shown(item.get('step'))}"
    return text_problem(item.get("key"), "key", ANSWER_KEY_WIDTH) or text_problem(item.get("by"), "by", BY_LIMIT)

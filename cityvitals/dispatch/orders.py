"""A task's events as work-order events, so backlog, closure and timing indicators count tasks too.

The work-order lifecycle goes forward only (received → dispatched → signed → handled → verified →
closed), so a task gives each of these once: its first signing, its first handling... A task's hops
(re-dispatched, escalated, returned, reopened) stay in the task's own log. A task of a community,
street or the district is an order of that area: the pipeline shares it among the grids below it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cityvitals.areas.model import AreaTree
from cityvitals.dispatch.tasks import Task, TaskEvent

SOURCE = "dispatch"  # the work-order source of tasks (feeds/workorders/events.py knows it)
ORDER_STEPS = {"dispatched": ("received", "dispatched"), "signed": ("signed",), "handled": ("handled",),
               "verified": ("verified",), "closed": ("closed",)}


def order_id(task_id: int) -> str:
    """The work-order id of a task."""
    return f"task-{task_id}"


def order_items(task: Task, event: TaskEvent, earlier: Sequence[TaskEvent]) -> list[dict[str, Any]]:
    """The work-order events one task event gives (none if its step was reached before)."""
    if event.step not in ORDER_STEPS or any(e.step == event.step for e in earlier):
        return []
    items = [{"order": order_id(task.id), "source": SOURCE, "area": task.area, "step": step, "ts": event.at}
             for step in ORDER_STEPS[event.step]]
    if event.step == "closed":
        items[-1]["resolved"] = "escalated" if any(e.step == "escalated" for e in earlier) else "grid"
    return items


def work_order_listener(tree: AreaTree, submit: Callable[[list[dict]], Any]) -> \
        Callable[[Task, TaskEvent, Sequence[TaskEvent]], None]:
    """A DispatchContext listener handing a task's events to ``submit`` (a work-order pipeline's)."""
    def listen(task: Task, event: TaskEvent, history: Sequence[TaskEvent]) -> None:
        if task.area not in tree:
            return
        # the events before this one (it is the newest, unless another step landed in between)
        at = max((i for i, e in enumerate(history) if e == event), default=len(history))
        items = order_items(task, event, history[:at])
        if items:
            submit(items)
    return listen

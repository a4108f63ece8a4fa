"""Dispatching from the wall: a warning episode becomes a task prefilled from the warning, by the same command.

The area, the indicator (and its domain or panel, which routes a district warning to a department),
the value, the limit it crossed, the state and since when come from the warning as it is in Redis,
never from the browser; the person adds the task type (which sets the deadlines), the priority and,
if they like, their own instruction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from dash import dcc

from cityvitals import store
from cityvitals.dispatch.commands import Actor, DispatchError, DispatchTask
from cityvitals.dispatch.tasks import Task, list_tasks, open_by_area
from cityvitals.text import shown
from dashboard import clock, data
from dashboard.acknowledging import EPISODE, MAX_PER_REQUEST
from dashboard.components import bi, value_text
from dashboard.context import DashboardContext

PRIORITY_BY_STATE = {"red": "high", "yellow": "normal"}
STATUS_ZH = {"dispatched": "已派发", "signed": "已签收", "handled": "已处置", "verified": "已核查", "closed": "已办结",
             "returned": "已退回"}


@dataclass
class DispatchOutcome:
    """What a dispatch request did: the tasks made and why the others were not."""

    tasks: list[Task] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def active_warning(c: DashboardContext, key: object) -> tuple[dict, dict] | str:
    """The warning record and definition of an active episode key, or why it is not one."""
    match = EPISODE.fullmatch(key) if isinstance(key, str) else None
    if match is None or match["area"] not in c.tree:
        return f"{shown(key, 60)}: not a warning key of this district"
    record = store.read_warning(c.client, match["indicator"], match["area"])
    if record is None or abs(record["since"] - float(match["since"])) >= 0.001 or record["s"] not in PRIORITY_BY_STATE:
        return f"{key}: not a warning now (it may have cleared)"
    definition = data.definitions(c.client).get(match["indicator"])
    if definition is None:
        return f"{key}: the indicator is not in the live catalog"
    return record, definition


def _number(value: object) -> float | None:
    """A limit as a number: the record keeps a time-of-day or funnel limit as text ("7.5"), or none."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def prefilled(record: dict, definition: dict, task_type: str | None, priority: str | None,
              instruction: str | None) -> dict:
    """The dispatch command's input for one warning: what the warning says, and what the person chose."""
    key = store.WarningKey.of(record)
    limit = _number(record["r"] if record["s"] == "red" else record["y"])
    since = clock.shown(record["since"], "%m-%d %H:%M")
    default = (f"{definition['name']['zh']} {record['s']} since {since}: {value_text(record['v'])} "
               f"(limit {value_text(limit)}). 请核查处置 Check and act.")
    return dict(area=key.area, indicator=key.indicator, group=definition.get("group"), value=_number(record["v"]),
                threshold=limit, warning_state=record["s"], warning_since=record["since"], task_type=task_type,
                priority=priority or PRIORITY_BY_STATE[record["s"]], instruction=(instruction or "").strip() or default)


def preview(c: DashboardContext, selected: object, task_type: str | None) -> list[str]:
    """One line per selected warning: the unit it would go to and the deadline its type gives."""
    if c.dispatch is None or not isinstance(selected, list):
        return []
    routing, lines = c.dispatch.routing, []
    for key in selected[:MAX_PER_REQUEST]:
        found = active_warning(c, key)
        if isinstance(found, str):
            lines.append(found)
            continue
        record, definition = found
        unit = routing.route(store.WarningKey.of(record).area, definition.get("group"))
        kind = task_type if task_type in routing.task_types else routing.spec.default_type
        due = time.time() + routing.deadlines_s(kind)[1]
        lines.append(f"{definition['name']['zh']} → {unit.name_zh} {unit.name_en} · "
                     f"截止 due {clock.shown(due, '%m-%d %H:%M')}")
    return lines


def dispatch_episodes(c: DashboardContext, actor: Actor, selected: object, task_type: str | None,
                      priority: str | None, instruction: str | None) -> DispatchOutcome:
    """Dispatch one task per selected active warning; refuse the others with reasons."""
    if c.dispatch is None:
        return DispatchOutcome(refused=["dispatch is not set up in this process"])
    if not isinstance(selected, list) or not selected:
        return DispatchOutcome(refused=["select warnings first"])
    if len(selected) > MAX_PER_REQUEST:
        return DispatchOutcome(refused=[f"{len(selected)} warnings selected; at most {MAX_PER_REQUEST} at once"])
    outcome = DispatchOutcome()
    for key in selected:
        found = active_warning(c, key)
        if isinstance(found, str):
            outcome.refused.append(found)
            continue
        try:
            outcome.tasks.append(DispatchTask(c.dispatch, actor, **prefilled(*found, task_type, priority,
                                                                              instruction)).run())
        except DispatchError as exc:
            outcome.refused.append(f"{key}: {exc}")
    return outcome


def dispatch_link(area_id: str) -> dcc.Link:
    """The way from an indicator's warning to dispatching it: the area's warnings page, where it is selected."""
    return dcc.Link(bi("一键调度 →", "Dispatch →"), href=f"/warnings?area={area_id}", className="button dispatch-link")


def warning_now(c: DashboardContext, task: Task) -> str:
    """Whether the warning a task answers is still on ("red now") or has cleared while the task is open."""
    if task.indicator is None or task.warning_since is None:
        return ""
    record = store.read_warning(c.client, task.indicator, task.area)
    if record is not None and abs(record["since"] - task.warning_since) < 0.001 and record["s"] in PRIORITY_BY_STATE:
        return f"{record['s']} now"
    return "已解除 cleared" if task.status != "closed" else "cleared"


def task_texts(c: DashboardContext, areas: set[str], now: float) -> dict[tuple[str, str, float], str]:
    """The newest task of each warning episode in these areas, as "#12 已签收 signed · 5 min"."""
    if c.dispatch is None or not areas:
        return {}
    out: dict[tuple[str, str, float], str] = {}
    for task in reversed(list_tasks(c.sql, areas=areas, limit=1000)):  # oldest first: the newest wins
        if task.indicator is None or task.warning_since is None:
            continue
        minutes = max(0, int((now - task.step_at) // 60))
        overdue = " ⚠ overdue" if task.status not in ("closed", "handled", "verified") and now > task.due else ""
        out[(task.indicator, task.area, round(task.warning_since, 3))] = (
            f"#{task.id} {STATUS_ZH.get(task.status, task.status)} {task.status} · {minutes} min{overdue}")
    return out


def history_tasks(c: DashboardContext, changes: list[dict]) -> list[str]:
    """For each logged change into a warning, the task that answers that episode ("#12 已办结 closed"), else ""."""
    areas = {r["area"] for r in changes}
    if c.dispatch is None or not areas:
        return [""] * len(changes)
    by_episode: dict[tuple[str, str], list[Task]] = {}
    for task in list_tasks(c.sql, areas=areas, limit=1000):  # newest first: the newest of an episode wins
        if task.indicator is not None and task.warning_since is not None:
            by_episode.setdefault((task.indicator, task.area), []).append(task)
    out = []
    for r in changes:
        at = clock.seconds(r["at"])
        # the engine logs a change at its episode's start, to the second
        task = next((t for t in by_episode.get((r["indicator"], r["area"]), []) if abs(t.warning_since - at) <= 1.0
                     and r["to_state"] in PRIORITY_BY_STATE), None)
        out.append(f"#{task.id} {STATUS_ZH.get(task.status, task.status)} {task.status}" if task else "")
    return out


def open_tasks_in(c: DashboardContext, area_ids: list[str]) -> list[int]:
    """How many open tasks each area has, in it or anywhere below it (the map's mark)."""
    if c.dispatch is None or not area_ids:
        return [0] * len(area_ids)
    wanted = set(area_ids)
    counts = dict.fromkeys(area_ids, 0)
    for area, n in open_by_area(c.sql).items():
        if area in c.tree:
            for a in {area, *(x.id for x in c.tree.ancestors(area))} & wanted:
                counts[a] += n
    return [counts[a] for a in area_ids]

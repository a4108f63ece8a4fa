"""Acknowledging warnings as one command: check what was sent, then record each episode that is real.

An episode is acknowledged only if it is a warning now (Redis) or was one (the warnings log in
SQL), so a client cannot fill the tables with made-up keys; at most MAX_PER_REQUEST at once. Each
key is answered for itself: the good ones are recorded even when others are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from cityvitals import store
from cityvitals.acks import MAX_COMMENT, acknowledge
from cityvitals.text import shown, text_problem
from cityvitals.users import audit
from dashboard.context import DashboardContext
from indicators.history import WarningLog, utc

MAX_PER_REQUEST = 100
EPISODE = re.compile(r"(?P<indicator>[a-z0-9_]{1,64})@(?P<area>[^@]{1,64})@(?P<since>\d{1,11}\.\d{3})")
WARNING_STATES = ("yellow", "red")


@dataclass
class AckOutcome:
    """What an acknowledgement request did: how many were recorded and why the others were not."""

    done: int = 0
    refused: list[str] = field(default_factory=list)


def _is_warning(c: DashboardContext, indicator: str, area: str, since: float) -> bool:
    """Whether the episode is a warning now or was one (a change into yellow or red logged at its start)."""
    record = store.read_warning(c.client, indicator, area)
    if record and abs(record["since"] - since) < 0.001:
        return True
    t = WarningLog.__table__
    with c.sql.connect() as conn:  # the engine logs a change at the episode's start, to the second
        return conn.execute(select(t.c.id).where(
            t.c.indicator == indicator, t.c.area == area, t.c.to_state.in_(WARNING_STATES),
            t.c.at.between(utc(since - 1), utc(since + 1))).limit(1)).first() is not None


def _request_problem(selected: Any, comment: Any) -> str | None:
    """Why the request as a whole is refused: its comment, or what was selected; None if it may go on."""
    if comment not in (None, ""):
        problem = text_problem(comment, "comment", MAX_COMMENT)
        if problem:
            return problem
    if not isinstance(selected, list) or not selected:
        return "select warnings first"
    if len(selected) > MAX_PER_REQUEST:
        return f"{len(selected)} warnings selected; at most {MAX_PER_REQUEST} at once"
    return None


def acknowledge_episodes(c: DashboardContext, user: str, selected: Any, comment: Any) -> AckOutcome:
    """Record an acknowledgement of each selected episode that is or was a warning; refuse the rest with reasons."""
    problem = _request_problem(selected, comment)
    if problem:
        return AckOutcome(refused=[problem])
    comment = (comment or "").strip()
    outcome = AckOutcome()
    for key in selected:
        match = EPISODE.fullmatch(key) if isinstance(key, str) else None
        if match is None or match["area"] not in c.tree:
            outcome.refused.append(f"{shown(key, 60)}: not a warning key of this district")
            continue
        indicator, area, since = match["indicator"], match["area"], float(match["since"])
        if not _is_warning(c, indicator, area, since):
            outcome.refused.append(f"{key}: no such warning now or in the warnings log")
            continue
        acknowledge(c.sql, indicator, area, since, user, comment)
        store.rank_acknowledged(c.client, c.tree, indicator, area, since)  # seen: below what is not yet
        audit(c.sql, user, "warning_ack", indicator=indicator, area=area, since=match["since"])
        outcome.done += 1
    return outcome

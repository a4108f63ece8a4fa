"""Assessment per unit: figures worked out by hand from a few tasks on a test clock, and the CSV."""

from __future__ import annotations

import csv
import io

from cityvitals.dispatch.assessment import assess, scores_csv
from cityvitals.dispatch.commands import (
    CloseTask,
    EscalateTask,
    HandleTask,
    ReopenTask,
    ReturnTask,
    SignTask,
    VerifyTask,
)
from tests.dispatch.conftest import ANALYST, COMMITTEE, COMMITTEE_PERSON, HEAD, HEAD_PERSON, NOW
from tests.dispatch.test_lifecycle import dispatch


def test_units_are_scored_and_ranked(ctx, clock):
    a, b, c = dispatch(ctx), dispatch(ctx), dispatch(ctx)
    clock.tick(60)
    SignTask(ctx, HEAD_PERSON, a.id).run()  # 60 s: on time
    HandleTask(ctx, HEAD_PERSON, a.id, "done").run()
    VerifyTask(ctx, ANALYST, a.id).run()
    ReopenTask(ctx, ANALYST, a.id, "not done").run()
    HandleTask(ctx, HEAD_PERSON, a.id, "done").run()
    VerifyTask(ctx, ANALYST, a.id).run()
    clock.tick(3600)
    CloseTask(ctx, ANALYST, a.id).run()  # closed on time, 3660 s after dispatch
    ReturnTask(ctx, HEAD_PERSON, b.id, "not ours").run()  # b goes back to the wall
    clock.tick(3600)
    EscalateTask(ctx, ANALYST, c.id, "the head is away").run()  # c was never signed by the head
    clock.tick(120)
    SignTask(ctx, COMMITTEE_PERSON, c.id).run()  # 120 s at the committee: on time
    scores = {s.unit: s for s in assess(ctx.sql, ctx.routing, NOW, clock.now + 1)}
    head, committee = scores[HEAD], scores[COMMITTEE]
    assert (head.received, head.signed_on_time, head.closed, head.closed_on_time, head.returned, head.reopened) \
        == (3, 1, 1, 1, 1, 1)
    assert (head.median_sign_s, head.median_close_s) == (60.0, 3660.0)
    assert (committee.received, committee.signed_on_time, committee.median_sign_s) == (1, 1, 120.0)
    ranked = [s.unit for s in assess(ctx.sql, ctx.routing, NOW, clock.now + 1)]
    assert ranked.index(COMMITTEE) < ranked.index(HEAD)  # all signed on time beats a third
    assert set(scores) == {HEAD, COMMITTEE}  # the wall's centre only took a returned task back: no score
    rows = list(csv.DictReader(io.StringIO(scores_csv(list(scores.values()), ctx.routing))))
    head_row = next(r for r in rows if r["unit"] == HEAD)
    assert head_row["name_en"] == "Grid head of Jiangpu Community 1 Grid 1" and head_row["received"] == "3"
    assert assess(ctx.sql, ctx.routing, clock.now + 10, clock.now + 20) == []

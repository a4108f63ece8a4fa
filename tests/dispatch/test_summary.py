"""The dispatch panel's figures, worked out by hand from three tasks on a test clock."""

from __future__ import annotations

from cityvitals.dispatch.commands import CloseTask, HandleTask, ReopenTask, SignTask, VerifyTask
from cityvitals.dispatch.summary import summarise
from tests.dispatch.conftest import ANALYST, HEAD, HEAD_PERSON, NOW
from tests.dispatch.test_lifecycle import dispatch


def test_funnel_hops_overdue_and_closure(ctx, clock):
    a, b, _urgent = dispatch(ctx), dispatch(ctx), dispatch(ctx, task_type="urgent")
    clock.tick(30)
    SignTask(ctx, HEAD_PERSON, a.id).run()
    clock.tick(30)
    SignTask(ctx, HEAD_PERSON, b.id).run()  # signed after 60 s: the median of 30 and 60 is 45
    clock.tick(600)
    HandleTask(ctx, HEAD_PERSON, a.id, "done").run()
    VerifyTask(ctx, ANALYST, a.id).run()
    ReopenTask(ctx, ANALYST, a.id, "not done").run()
    HandleTask(ctx, HEAD_PERSON, a.id, "done now").run()  # handled twice: counted once
    VerifyTask(ctx, ANALYST, a.id).run()
    clock.tick(10)
    CloseTask(ctx, ANALYST, a.id).run()
    s = summarise(ctx.sql, clock.now, NOW - 3600)
    assert s.funnel == {"dispatched": 3, "signed": 2, "handled": 1, "verified": 1, "closed": 1}
    assert s.hop_median_s == {"sign": 45.0, "handle": 630.0, "verify": 0.0, "close": 10.0}
    assert s.overdue_by_unit == {HEAD: 1}  # c, unsigned past its 10 minutes to sign
    assert s.closure_rate is None  # nothing due yet
    clock.tick(5 * 3600)  # c (urgent: 4 h) is past due and unsigned; b is signed, due in 24 h
    s = summarise(ctx.sql, clock.now, NOW - 3600)
    assert s.overdue_by_unit == {HEAD: 1}
    assert (s.closure_rate, s.due_week) == (0.0, 1)
    clock.tick(86400)  # a day later: a, b and c are due; only a is closed
    s = summarise(ctx.sql, clock.now, clock.now - 3600)
    assert s.funnel == {"dispatched": 0, "signed": 0, "handled": 0, "verified": 0, "closed": 0}
    assert (round(s.closure_rate, 2), s.due_week) == (33.33, 3) and s.overdue_by_unit == {HEAD: 2}

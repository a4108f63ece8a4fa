"""Tasks of a grid become work orders: the pipeline's backlog and closure figures count them."""

from __future__ import annotations

from cityvitals import store
from cityvitals.dispatch.commands import CloseTask, DispatchContext, EscalateTask, HandleTask, SignTask, VerifyTask
from cityvitals.dispatch.orders import work_order_listener
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from feeds.workorders.pipeline import WorkOrderPipeline
from tests.dispatch.conftest import ANALYST, COMMITTEE_PERSON, GRID, HEAD_PERSON, NOW
from tests.dispatch.test_lifecycle import dispatch


def figures(pipeline, now: float, grid: str) -> dict[str, float]:
    return {i["metric"]: i["value"] for i in pipeline.aggregates(now) if i["area"] == grid}


def test_a_grid_task_is_counted_open_then_closed(redis_client, demo_tree, sqlite_engine, routing, clock):
    pipeline = WorkOrderPipeline(Ingestor(redis_client, "events:dispatch", registry(),
                                          frozenset(demo_tree.ids("grid")), clock=clock))
    ctx = DispatchContext(sqlite_engine, routing, clock, [work_order_listener(demo_tree, pipeline.submit)])
    task = dispatch(ctx)
    assert figures(pipeline, clock.now, GRID)["orders_open"] == 1
    clock.tick(25 * 60)
    EscalateTask(ctx, HEAD_PERSON, task.id, "needs the committee's key").run()
    clock.tick(60)
    SignTask(ctx, COMMITTEE_PERSON, task.id).run()
    assert figures(pipeline, clock.now, GRID)["order_sign_minutes"] == 26.0  # dispatch to the first signing
    HandleTask(ctx, COMMITTEE_PERSON, task.id, "done").run()
    VerifyTask(ctx, ANALYST, task.id).run()
    clock.tick(60)
    CloseTask(ctx, ANALYST, task.id).run()
    after = figures(pipeline, clock.now, GRID)
    assert (after["orders_open"], after["orders_closed_7d"], after["orders_escalated_7d"]) == (0, 1, 1)
    assert after["orders_closed_on_time_24h"] == 0 and after["orders_due_24h"] == 0  # due tomorrow
    assert pipeline.ingestor.health["events_accepted"] == 6  # received, dispatched, signed, handled, verified, closed
    assert redis_client.xlen(store.DEADLETTER) == 0  # nothing refused: no step was told twice


def test_a_street_task_stays_out_of_the_grid_figures(redis_client, demo_tree, sqlite_engine, routing, clock):
    submitted = []
    ctx = DispatchContext(sqlite_engine, routing, clock, [work_order_listener(demo_tree, submitted.append)])
    dispatch(ctx, area="pukou.jiangpu")
    assert submitted == []
    dispatch(ctx)
    assert [[i["step"] for i in items] for items in submitted] == [["received", "dispatched"]]
    assert submitted[0][0]["ts"] == NOW and submitted[0][0]["order"] == "task-2"

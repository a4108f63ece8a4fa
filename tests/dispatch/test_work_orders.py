"""Tasks become work orders: the pipeline's backlog, closure and timing figures count them, at every level."""

from __future__ import annotations

import pytest

from cityvitals import store
from cityvitals.config import DEFAULT_CATALOG
from cityvitals.dispatch.commands import CloseTask, DispatchContext, EscalateTask, HandleTask, SignTask, VerifyTask
from cityvitals.dispatch.orders import work_order_listener
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from feeds.workorders.aggregate import grids_below
from feeds.workorders.pipeline import WorkOrderFeed, WorkOrderPipeline
from indicators.loader import load_catalog
from indicators.service import EngineService
from tests.dispatch.conftest import ANALYST, COMMITTEE_PERSON, GRID, HEAD_PERSON, SUB_PERSON
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


def test_a_street_task_counts_in_the_street_and_above_through_the_engine(redis_client, demo_tree, sqlite_engine,
                                                                         routing, clock):
    ingestor = Ingestor(redis_client, "events:dispatch", registry(), frozenset(demo_tree.ids("grid")), clock=clock)
    pipeline = WorkOrderPipeline(ingestor, below=grids_below(demo_tree))
    ctx = DispatchContext(sqlite_engine, routing, clock, [work_order_listener(demo_tree, pipeline.submit)])
    street, community = "pukou.jiangpu", demo_tree.ids("community")[-1]
    other = next(a.id for a in demo_tree.ancestors(community) if a.level == "street")
    grids = [g for g in demo_tree.ids("grid") if g.startswith(f"{street}.")]
    task = dispatch(ctx, area=street)
    dispatch(ctx, area=community)  # a community's task in another street
    clock.tick(12 * 60)
    SignTask(ctx, SUB_PERSON, task.id).run()
    grid_task = dispatch(ctx)  # and one of a grid in the street, signed in 2 minutes
    clock.tick(120)
    SignTask(ctx, HEAD_PERSON, grid_task.id).run()
    shares = figures(pipeline, clock.now, grids[-1])
    assert shares["orders_open"] == pytest.approx(1 / len(grids))  # its share of the street's task
    assert shares["order_sign_minutes"] == 12.0  # its only timing is the street task's
    assert figures(pipeline, clock.now, GRID)["order_sign_minutes"] == 2.0  # a grid's own order outweighs a share
    clock.tick(25 * 3600)  # past the orders' 24 h: all three are overdue
    assert WorkOrderFeed(pipeline).run_once(clock.now).refused == []
    EngineService(redis_client, None, demo_tree, load_catalog([DEFAULT_CATALOG])).tick(clock.now + 5)
    overdue = store.read_state_of(redis_client, "orders_overdue", ["pukou", street, other])
    assert {a: overdue[a]["v"] for a in overdue} == pytest.approx({"pukou": 3.0, street: 2.0, other: 1.0})
    assert redis_client.xlen(store.DEADLETTER) == 0

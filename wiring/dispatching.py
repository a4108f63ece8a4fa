"""Compose dispatch for a process: the routing table, the work-order pipeline listening, the escalation job."""

from __future__ import annotations

import logging
import time

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask
from flask_login import current_user

from cityvitals.config import Settings
from cityvitals.connections import Connections
from cityvitals.dispatch.api import task_blueprint
from cityvitals.dispatch.commands import Actor, DispatchContext, escalate_overdue
from cityvitals.dispatch.orders import SOURCE, work_order_listener
from cityvitals.dispatch.routing import read_routing
from cityvitals.dispatch.tasks import responder_units
from cityvitals.dispatch.webhook import Deliverer, outbox_listener
from cityvitals.metrics import registry
from cityvitals.security import current_name, current_role
from cityvitals.users import User
from dashboard.respond import respond_blueprint
from feeds.ingest import Ingestor
from feeds.workorders.aggregate import grids_below
from feeds.workorders.pipeline import WorkOrderPipeline

log = logging.getLogger(__name__)
DELIVERY_SECONDS = 5.0  # the webhook's first retry waits as long
ESCALATION_SECONDS = 30.0  # how often deadlines are looked at: a deadline is in minutes, this is well inside


def dispatch_context(rt: Connections) -> DispatchContext:
    """A dispatch context whose task events also go into the work-order pipeline (as source ``dispatch``)."""
    routing = read_routing(rt.settings.routing_path, rt.tree)
    pipeline = WorkOrderPipeline(Ingestor(rt.client, f"events:{SOURCE}", registry(), frozenset(rt.tree.ids("grid"))),
                                 below=grids_below(rt.tree))
    listeners = [work_order_listener(rt.tree, pipeline.submit)]
    if rt.settings.webhook_url:
        listeners.append(outbox_listener(rt.sql))
    return DispatchContext(rt.sql, routing, notify=listeners, photos=rt.settings.data_dir / "photos")


def request_actor(ctx: DispatchContext) -> Actor:
    """The actor of the current web request (a visitor has the anonymous role and no units)."""
    user_id = getattr(current_user, "user_id", None)
    name, role = current_name(), current_role()
    if role == "responder" and user_id is not None:
        return Actor(name, role, responder_units(ctx.sql, user_id))
    return Actor(name, role)


def install_task_api(server: Flask, ctx: DispatchContext) -> None:
    """Mount ``/api/v1/tasks`` and the phone page ``/respond`` (answers come on the events API: wiring.web)."""
    server.register_blueprint(task_blueprint(ctx, lambda: request_actor(ctx)))
    server.register_blueprint(respond_blueprint())


def actor_of(ctx: DispatchContext, user: User) -> Actor:
    """The actor a user is: a responder with the units they are bound to."""
    units = responder_units(ctx.sql, user.id) if user.role == "responder" else frozenset()
    return Actor(user.name, user.role, units)


def start_escalation(ctx: DispatchContext, scheduler: BackgroundScheduler, settings: Settings | None = None) -> None:
    """Escalate tasks past their deadlines, and deliver the webhook's outbox if there is one.

    Every ESCALATION_SECONDS (each task once: the step is versioned); the outbox every DELIVERY_SECONDS.
    """
    if settings is not None and settings.webhook_url:
        deliverer = Deliverer(ctx.sql, settings.webhook_url, settings.webhook_secret)
        scheduler.add_job(lambda: deliverer.deliver(time.time()), "interval", seconds=DELIVERY_SECONDS,
                          id="dispatch-webhook", max_instances=1, coalesce=True)
    def job() -> None:
        done = escalate_overdue(ctx)
        if done:
            log.info("dispatch: escalated %d task(s) past their deadlines", len(done))

    scheduler.add_job(job, "interval", seconds=ESCALATION_SECONDS, id="dispatch-escalation", max_instances=1,
                      coalesce=True)

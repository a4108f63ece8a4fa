"""The dashboard as a WSGI app: the Dash pages plus the HTTP push API, reading Redis and SQL."""

from __future__ import annotations

from functools import cache

from flask import Flask

from cityvitals.config import load_settings
from cityvitals.metrics import registry
from cityvitals.runtime import Runtime, open_runtime
from dashboard import create_app
from dashboard.context import DashboardContext
from feeds.http_push import install_push_api
from feeds.ingest import Ingestor
from feeds.tokens import TokenVerifier


def build_server(rt: Runtime) -> Flask:
    """The Flask server of this process: dashboard pages and ``/api/v1/samples``."""
    app = create_app(DashboardContext(rt.client, rt.sql, rt.tree, rt.settings.tick_seconds))
    grids = frozenset(rt.tree.ids("grid"))
    ingestors: dict[str, Ingestor] = {}

    def ingestor_for(source: str) -> Ingestor:
        return ingestors.setdefault(source, Ingestor(rt.client, f"push:{source}", registry(), grids))

    # the limiter shares the process's Redis, so limits hold across gunicorn workers
    install_push_api(app.server, TokenVerifier(rt.sql), ingestor_for, "redis://",
                     {"connection_pool": rt.client.connection_pool})
    return app.server


@cache
def web_server() -> Flask:
    """Build the server once per process from the environment's settings."""
    return build_server(open_runtime(load_settings()))

"""The dashboard as a WSGI app for gunicorn: reads Redis and SQL, runs no engine or feed."""

from __future__ import annotations

from functools import cache

from flask import Flask

from cityvitals.config import load_settings
from cityvitals.runtime import open_runtime
from dashboard import create_app
from dashboard.context import DashboardContext


@cache
def web_server() -> Flask:
    """Build the dashboard once per process from the environment's settings."""
    rt = open_runtime(load_settings())
    return create_app(DashboardContext(rt.client, rt.sql, rt.tree, rt.settings.tick_seconds)).server

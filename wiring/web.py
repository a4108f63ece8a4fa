"""The dashboard as a WSGI app: the Dash pages plus the HTTP push API, reading Redis and SQL."""

from __future__ import annotations

import gc
from functools import cache

import redis
from cheroot import wsgi
from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.middleware.proxy_fix import ProxyFix

from cityvitals import store
from cityvitals.config import load_settings
from cityvitals.dispatch.webhook import SIGNATURE_HEADER
from cityvitals.guards import install_guards
from cityvitals.headers import install_headers
from cityvitals.observability import install_observability
from cityvitals.redis_server import is_cluster
from cityvitals.security import install_security, secret_key
from cityvitals.tokens import TokenVerifier
from dashboard import create_app
from dashboard.context import DashboardContext
from dashboard.geometry import geometry_blueprint
from feeds.http_push.api import install_push_api
from feeds.http_push.sinks import SourceSinks
from feeds.workorders.answers import TaskAnswers
from wiring.dispatching import dispatch_context, install_task_api
from wiring.runtime import Runtime, open_runtime


def build_server(rt: Runtime) -> Flask:
    """The Flask server of this process: dashboard pages, login, the push API and ``/api/v1/tasks``."""
    dispatch = dispatch_context(rt)
    app = create_app(DashboardContext(rt.client, rt.sql, rt.tree, rt.settings.tick_seconds,
                                      rt.settings.catalog_path, dispatch, rt.settings.closure_target,
                                      rt.settings.archive_path, rt.settings.timezone))
    sinks = SourceSinks(rt.client, rt.tree)

    def events_for(source: str, body: bytes) -> TaskAnswers:
        return TaskAnswers(sinks.orders(source), dispatch, rt.settings.webhook_secret, body,
                           request.headers.get(SIGNATURE_HEADER))

    app.server.register_blueprint(geometry_blueprint())
    limiter = redis_limiter(app.server, rt.redis_url, rt.client)
    install_push_api(app.server, TokenVerifier(rt.sql), sinks.samples, limiter, events_for=events_for)
    install_task_api(app.server, dispatch)
    install_observability(app.server, rt.client, rt.sql, rt.settings)  # first: its timer sees refusals too
    install_security(app.server, rt.sql, limiter, rt.settings, secret_key(rt.settings.data_dir))
    install_guards(app.server, lambda: app.callback_map)  # after the login and CSRF checks: they answer first
    install_headers(app.server, app.csp_hashes, rt.settings.frame_ancestors)
    if rt.settings.trusted_proxies:
        # the address, scheme and host the proxies were asked for: Secure cookies, per-client login limits
        n = rt.settings.trusted_proxies
        app.server.wsgi_app = ProxyFix(app.server.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
    return app.server


SERVER_NAME = "cityvitals"  # the Server header: no software versions for a scanner to match
HTTP_THREADS = 16  # requests served at once: a wall's and a few analysts' callbacks, the push API


def http_server(server: Flask, host: str, port: int) -> wsgi.Server:
    """The in-process production HTTP server of ``cityvitals run`` (cheroot): ``prepare()`` binds, ``stop()`` ends."""
    return wsgi.Server((host, port), server, numthreads=HTTP_THREADS, server_name=SERVER_NAME)


def redis_limiter(server: Flask, url: str, client: redis.Redis) -> Limiter:
    """A rate limiter counting in the process's Redis, so limits hold across gunicorn workers."""
    if is_cluster(url):
        return Limiter(get_remote_address, app=server, storage_uri=url, storage_options={"key_prefix": store.PREFIX})
    return Limiter(get_remote_address, app=server, storage_uri="redis://",
                   storage_options={"connection_pool": client.connection_pool, "key_prefix": store.PREFIX})


@cache
def web_server() -> Flask:
    """Build the server once per process from the environment's settings.

    What it loaded lives as long as the process (a province's area tree and the catalog: some 600,000
    objects), so it is moved out of the cyclic collector's sight: a full collection walked all of it,
    0.25-0.46 s with every thread of the worker stopped, a few times a minute under a wall's load.
    """
    server = build_server(open_runtime(load_settings()))
    gc.collect()  # what loading left as garbage goes first: frozen, it would stay for good
    gc.freeze()
    return server

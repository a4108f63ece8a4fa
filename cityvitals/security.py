"""Who may do what on the web server: login sessions (Flask-Login over SQL sessions), CSRF (Flask-WTF), roles.

The wall display may read without logging in (``CITYVITALS_ANONYMOUS_ROLE=viewer``, the default);
with ``none`` every page asks for a login. The session cookie holds a random session token
(cityvitals/sessions.py), never a user id. Dash callbacks carry the CSRF token in the
``X-CSRFToken`` header, read from the ``_csrf_token`` cookie set on every page response; the token
is signed with a time and expires, and it is replaced at login and at logout.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, jsonify, redirect, render_template_string, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import AnonymousUserMixin, LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from limits import parse
from sqlalchemy.engine import Engine as SqlEngine

from cityvitals.config import Settings
from cityvitals.private_files import private_dir
from cityvitals.sessions import Lifetimes, Session, end_sessions, find_session, open_session
from cityvitals.users import audit, check_login, role_at_least

ANONYMOUS_ROLES = ("viewer", "none")
# reachable without a session, exactly these paths (each answers for itself who may read what)
OPEN_PATHS = frozenset({"/login", "/api/v1/samples", "/api/v1/events", "/api/v1/tasks/answers", "/healthz",
                        "/readyz", "/metrics"})
NO_COOKIE_PATHS = ("/api/v1/", "/healthz", "/readyz", "/metrics")  # machines: no CSRF cookie for them
CSRF_COOKIE = "_csrf_token"  # the name Dash's renderer reads
CSRF_SECONDS = 3600  # a page refreshes its token with every response; a form left open longer is refused
LOGIN_RATE = "10 per minute"
WRITE_RATE = "30 per minute"  # actions (acknowledge, export, admin) per user or address
REFUSAL_AUDIT_RATE = "1 per minute"  # refused attempts of one kind from one address audited at most this often

LOGIN_PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>City Vitals 登录</title>
<style>body{background:#0b1220;color:#dce6f5;font:18px "Noto Sans CJK SC",sans-serif;display:grid;
place-items:center;height:100vh;margin:0}form{background:#131d31;padding:32px;border-radius:8px;width:320px}
input{width:100%;box-sizing:border-box;margin:6px 0 14px;padding:8px;font-size:16px;background:#0b1220;
color:#dce6f5;border:1px solid #2c3b5a}button{padding:8px 20px;font-size:16px}.err{color:#ff6b6b}</style>
</head><body><form method="post" action="/login"><h2>城市生命体征 City Vitals</h2>
{% if error %}<p class="err">{{ error }}</p>{% endif %}
<input type="hidden" name="csrf_token" value="{{ csrf }}"><input type="hidden" name="next" value="{{ next }}">
<label>用户 User<input name="name" autocomplete="username" maxlength="64" required></label>
<label>密码 Password<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">登录 Log in</button></form></body></html>"""


class SessionUser(UserMixin):
    """A logged-in user for Flask-Login; its id is the session token."""

    def __init__(self, found: Session, token: str) -> None:
        self.user_id, self.name, self.role, self.token = found.user_id, found.name, found.role, token

    def get_id(self) -> str:
        return self.token


class ProxyAwareSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, marked Secure whenever the request came over HTTPS (behind a proxy too)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure or super().get_cookie_secure(app)


def secret_key(data_dir: Path, env: dict[str, str] | None = None) -> str:
    """CITYVITALS_SECRET_KEY, else a key kept in the data directory so every worker of one install agrees."""
    env = os.environ if env is None else env
    if env.get("CITYVITALS_SECRET_KEY"):
        return env["CITYVITALS_SECRET_KEY"]
    path = data_dir / "secret_key"
    if not path.exists():
        private_dir(data_dir)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def current_role() -> str | None:
    """The role of the request's user (the anonymous role if not logged in; None: no rights)."""
    return getattr(current_user, "role", None)


def current_name() -> str:
    """The request's user name, ``anonymous`` if not logged in."""
    return getattr(current_user, "name", "anonymous")


def allowed(needed: str) -> bool:
    """Whether the request's user has at least the ``needed`` role."""
    return role_at_least(current_role(), needed)


def refuse(sql: SqlEngine, what: str, **detail: object) -> None:
    """Audit a refused attempt (role, CSRF, rate limit), at most once a minute per kind and address.

    So a flood of refused requests cannot become a flood of audit rows.
    """
    address = get_remote_address()
    if _hit(REFUSAL_AUDIT_RATE, "refusal-audit", what, address):
        audit(sql, current_name(), f"refused_{what}", address=address, path=request.path, **detail)


def write_allowed() -> bool:
    """Count one action (acknowledge, export, admin) of the request's user or address; False past WRITE_RATE."""
    who = current_name() if getattr(current_user, "is_authenticated", False) else f"@{get_remote_address()}"
    return _hit(WRITE_RATE, "writes", who)


def _hit(rate: str, *key: str) -> bool:
    limiter: Limiter = current_app.extensions["cityvitals_limiter"]
    return limiter.limiter.hit(parse(rate), *key)


def _safe_next(target: str | None) -> str:
    # only same-site relative paths: a login link must not bounce the user to another host
    parts = urlsplit(target or "/")
    return target if target and not parts.scheme and not parts.netloc and target.startswith("/") else "/"


def install_security(server: Flask, sql: SqlEngine, limiter: Limiter, settings: Settings, key: str) -> None:
    """Add login sessions, CSRF protection and the login pages to ``server``."""
    anonymous_role = settings.anonymous_role
    if anonymous_role not in ANONYMOUS_ROLES:
        raise ValueError(f"anonymous role must be one of {', '.join(ANONYMOUS_ROLES)}, got {anonymous_role!r}")
    server.config.update(SECRET_KEY=key, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                         WTF_CSRF_TIME_LIMIT=CSRF_SECONDS)
    server.session_interface = ProxyAwareSessions()
    server.extensions["cityvitals_limiter"] = limiter
    # a viewer's login on an open wall gives nothing a visitor lacks: it need not idle out
    lifetimes = Lifetimes(settings.session_idle_s, settings.session_max_s,
                          frozenset({"viewer"}) if anonymous_role == "viewer" else frozenset())

    class Anonymous(AnonymousUserMixin):
        name = "anonymous"
        role = None if anonymous_role == "none" else anonymous_role

    manager = LoginManager(server)
    manager.anonymous_user = Anonymous

    @manager.user_loader
    def load_user(token: str) -> SessionUser | None:
        found = find_session(sql, token, lifetimes)
        return SessionUser(found, token) if found else None

    @server.before_request
    def require_login():  # noqa: ANN202
        if current_role() is None and request.path not in OPEN_PATHS:
            if request.method == "GET":
                return redirect(f"/login?next={request.full_path.rstrip('?')}")
            return jsonify(error="log in first"), 401
        return None

    # after require_login, so a visitor without a session hears "log in" rather than "no CSRF token"
    csrf = CSRFProtect(server)
    if "push" in server.blueprints:  # bearer tokens, no cookies: nothing to forge
        csrf.exempt(server.blueprints["push"])
    _install_answers(server, sql)
    server.register_blueprint(_pages(sql, limiter))


def _install_answers(server: Flask, sql: SqlEngine) -> None:
    """The CSRF cookie on every page response, and the answers to refused requests (audited)."""
    @server.after_request
    def csrf_cookie(resp: Response) -> Response:
        if not request.path.startswith(NO_COOKIE_PATHS):
            resp.set_cookie(CSRF_COOKIE, generate_csrf(), samesite="Lax", secure=request.is_secure)
        return resp

    @server.errorhandler(CSRFError)
    def csrf_refused(exc: CSRFError) -> tuple[Response, int]:
        refuse(sql, "csrf", reason=exc.description)
        return jsonify(error=f"refused: {exc.description} Reload the page and try again."), 400

    @server.errorhandler(429)
    def over_limit(exc: Exception) -> tuple[Response, int]:
        refuse(sql, "rate_limit")
        return jsonify(error=f"too many requests: {getattr(exc, 'description', '')}; try again later"), 429


def _pages(sql: SqlEngine, limiter: Limiter) -> Blueprint:
    """The login form, login and logout."""
    pages = Blueprint("security", __name__)

    def form(target: str, error: str | None = None) -> str:
        return render_template_string(LOGIN_PAGE, csrf=generate_csrf(), next=target, error=error)

    @pages.get("/login")
    def login_form() -> str:
        return form(_safe_next(request.args.get("next")))

    @pages.post("/login")
    @limiter.limit(LOGIN_RATE, key_func=get_remote_address)
    def login():  # noqa: ANN202
        name, target = request.form.get("name", ""), _safe_next(request.form.get("next"))
        user = check_login(sql, name, request.form.get("password", ""))
        if user is None:
            audit(sql, name or "?", "login_failed", address=get_remote_address())
            return form(target, "用户或密码错误 Wrong user name or password"), 401
        session.clear()  # nothing of the visitor's session, its CSRF token included, carries over
        token = open_session(sql, user.id, user.name, user.role)
        login_user(SessionUser(Session(user.id, user.name, user.role), token))
        audit(sql, user.name, "login", address=get_remote_address())
        return redirect(target)

    @pages.post("/logout")
    def logout():  # noqa: ANN202
        if current_user.is_authenticated:
            with sql.begin() as conn:
                ended = end_sessions(conn, current_user.user_id)
            audit(sql, current_name(), "logout", sessions=ended)
        logout_user()
        session.clear()
        return redirect("/")

    return pages

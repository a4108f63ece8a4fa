"""Who may do what on the web server: login sessions (Flask-Login), CSRF (Flask-WTF), roles.

The wall display may read without logging in (``CITYVITALS_ANONYMOUS_ROLE=viewer``, the default);
with ``none`` every page asks for a login. Dash callbacks carry the CSRF token in the
``X-CSRFToken`` header, read from the ``_csrf_token`` cookie set on every page response.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, jsonify, redirect, render_template_string, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import AnonymousUserMixin, LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from sqlalchemy.engine import Engine as SqlEngine

from cityvitals.users import User, audit, check_login, get_user, role_at_least

ANONYMOUS_ROLES = ("viewer", "none")
OPEN_PREFIXES = ("/login", "/api/v1/", "/healthz", "/readyz", "/metrics")  # reachable without a session
CSRF_COOKIE = "_csrf_token"  # the name Dash's renderer reads
LOGIN_RATE = "10 per minute"

LOGIN_PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>City Vitals 登录</title>
<style>body{background:#0b1220;color:#dce6f5;font:18px "Noto Sans CJK SC",sans-serif;display:grid;
place-items:center;height:100vh;margin:0}form{background:#131d31;padding:32px;border-radius:8px;width:320px}
input{width:100%;box-sizing:border-box;margin:6px 0 14px;padding:8px;font-size:16px;background:#0b1220;
color:#dce6f5;border:1px solid #2c3b5a}button{padding:8px 20px;font-size:16px}.err{color:#ff6b6b}</style>
</head><body><form method="post" action="/login"><h2>城市生命体征 City Vitals</h2>
{% if error %}<p class="err">{{ error }}</p>{% endif %}
<input type="hidden" name="csrf_token" value="{{ csrf }}"><input type="hidden" name="next" value="{{ next }}">
<label>用户 User<input name="name" autocomplete="username" required></label>
<label>密码 Password<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">登录 Log in</button></form></body></html>"""


class SessionUser(UserMixin):
    """A logged-in user for Flask-Login."""

    def __init__(self, user: User) -> None:
        self.user, self.name, self.role = user, user.name, user.role

    def get_id(self) -> str:
        return str(self.user.id)


def secret_key(data_dir: Path, env: dict[str, str] | None = None) -> str:
    """CITYVITALS_SECRET_KEY, else a key kept in the data directory so every worker of one install agrees."""
    env = os.environ if env is None else env
    if env.get("CITYVITALS_SECRET_KEY"):
        return env["CITYVITALS_SECRET_KEY"]
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
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


def _safe_next(target: str | None) -> str:
    # only same-site relative paths: a login link must not bounce the user to another host
    parts = urlsplit(target or "/")
    return target if target and not parts.scheme and not parts.netloc and target.startswith("/") else "/"


def install_security(server: Flask, sql: SqlEngine, limiter: Limiter, anonymous_role: str, key: str) -> None:
    """Add login sessions, CSRF protection and the login pages to ``server``."""
    if anonymous_role not in ANONYMOUS_ROLES:
        raise ValueError(f"anonymous role must be one of {', '.join(ANONYMOUS_ROLES)}, got {anonymous_role!r}")
    server.config.update(SECRET_KEY=key, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                         WTF_CSRF_TIME_LIMIT=None)  # bound to the session; a wall runs for days
    class Anonymous(AnonymousUserMixin):
        name = "anonymous"
        role = None if anonymous_role == "none" else anonymous_role

    manager = LoginManager(server)
    manager.anonymous_user = Anonymous

    @manager.user_loader
    def load_user(user_id: str) -> SessionUser | None:
        user = get_user(sql, int(user_id))
        return SessionUser(user) if user else None

    @server.before_request
    def require_login():  # noqa: ANN202
        if current_role() is None and not request.path.startswith(OPEN_PREFIXES):
            if request.method == "GET":
                return redirect(f"/login?next={request.full_path.rstrip('?')}")
            return jsonify(error="log in first"), 401
        return None

    # after require_login, so a visitor without a session hears "log in" rather than "no CSRF token"
    csrf = CSRFProtect(server)
    if "push" in server.blueprints:
        csrf.exempt(server.blueprints["push"])  # bearer tokens, no cookies: nothing to forge

    @server.after_request
    def csrf_cookie(resp: Response) -> Response:
        if not request.path.startswith(("/api/v1/", "/healthz", "/readyz", "/metrics")):
            resp.set_cookie(CSRF_COOKIE, generate_csrf(), samesite="Lax", secure=request.is_secure)
        return resp

    @server.errorhandler(CSRFError)
    def csrf_refused(exc: CSRFError) -> tuple[Response, int]:
        return jsonify(error=f"refused: {exc.description} Reload the page and try again."), 400

    pages = Blueprint("security", __name__)

    @pages.get("/login")
    def login_form() -> str:
        return render_template_string(LOGIN_PAGE, csrf=generate_csrf(), next=_safe_next(request.args.get("next")),
                                      error=None)

    @pages.post("/login")
    @limiter.limit(LOGIN_RATE, key_func=get_remote_address)
    def login():  # noqa: ANN202
        name, target = request.form.get("name", ""), _safe_next(request.form.get("next"))
        user = check_login(sql, name, request.form.get("password", ""))
        if user is None:
            audit(sql, name or "?", "login_failed", address=get_remote_address())
            return render_template_string(LOGIN_PAGE, csrf=generate_csrf(), next=target,
                                          error="用户或密码错误 Wrong user name or password"), 401
        login_user(SessionUser(user))
        audit(sql, user.name, "login", address=get_remote_address())
        return redirect(target)

    @pages.post("/logout")
    def logout():  # noqa: ANN202
        audit(sql, current_name(), "logout")
        logout_user()
        return redirect("/")

    server.register_blueprint(pages)

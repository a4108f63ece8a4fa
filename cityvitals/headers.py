"""Security headers on every response: a CSP that Dash runs under, framing rules, no sniffing or referrers.

Framing: the admin and login pages may be framed by nobody; the other pages (the wall) by this
origin, or by the list in ``CITYVITALS_FRAME_ANCESTORS``. Session cookies are SameSite=Lax, so a
page of another site that frames the wall does not carry anyone's login into the frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

from flask import Flask, Response, request

NEVER_FRAMED = ("/admin", "/login")  # pages with controls worth a click-jack; exact paths, see _never_framed


def content_policy(script_hashes: Sequence[str], frame_ancestors: str) -> str:
    """The Content-Security-Policy for a page: scripts only from here (and Dash's own inline ones, by hash).

    Plotly and Dash set inline styles, and MapLibre runs its workers from blob: URLs.
    """
    return "; ".join([
        "default-src 'self'", f"script-src 'self' {' '.join(script_hashes)}".rstrip(),
        "style-src 'self' 'unsafe-inline'", "img-src 'self' data: blob:", "font-src 'self' data:",
        "connect-src 'self'", "worker-src 'self' blob:", "child-src 'self' blob:", "object-src 'none'",
        "base-uri 'self'", "form-action 'self'", f"frame-ancestors {frame_ancestors}",
    ])


def _never_framed(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in NEVER_FRAMED)


def install_headers(server: Flask, script_hashes: Callable[[], Sequence[str]], frame_ancestors: str) -> None:
    """Add the security headers to every response of ``server``.

    ``script_hashes`` is asked once, at the first response: Dash knows its inline scripts only
    once every page has registered.
    """
    @cache
    def policies() -> tuple[str, str]:
        hashes = script_hashes()
        return content_policy(hashes, "'none'"), content_policy(hashes, frame_ancestors)

    @server.after_request
    def secure_headers(resp: Response) -> Response:
        closed = _never_framed(request.path)
        resp.headers["Content-Security-Policy"] = policies()[0 if closed else 1]
        if closed or frame_ancestors == "'self'":  # the old header for old browsers, where it can say it
            resp.headers["X-Frame-Options"] = "DENY" if closed else "SAMEORIGIN"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "same-origin"
        resp.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if request.is_secure:
            resp.headers["Strict-Transport-Security"] = "max-age=31536000"
        return resp

"""Who may keep a copy of a response: ``no-store`` unless the page is public.

On the shared computers of a hall (kiosks, counters) the back button, the browser cache or a
proxy must never show the previous person's data. So every response is ``no-store`` by default;
a view opts out with ``@public_page`` when what it shows is the same for every anonymous reader
(the catalogue, a guide, the home page). Even those are ``no-store`` for a logged-in reader,
whose name is in the header, and vary on the cookie (长辈模式 and the language live there).
Static files and responses that set their own ``Cache-Control`` are left alone.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response, request, session

PUBLIC_ATTRIBUTE = "public_page"


def public_page(view: Callable) -> Callable:
    """Mark a view whose anonymous response may be cached (it shows nothing personal)."""
    setattr(view, PUBLIC_ATTRIBUTE, True)
    return view


def is_public(app: Flask, endpoint: str | None) -> bool:
    view = app.view_functions.get(endpoint or "")
    return endpoint == "static" or bool(getattr(view, PUBLIC_ATTRIBUTE, False))


def register_cache_policy(app: Flask) -> None:
    @app.after_request
    def _cache_policy(response: Response) -> Response:
        if "Cache-Control" in response.headers:
            return response
        if request.endpoint == "static":
            return response
        # the session's user id, not current_user: after the commit its row is expired, and
        # asking whether it is active would cost every page a query
        if is_public(app, request.endpoint) and session.get("_user_id") is None:
            response.vary.add("Cookie")
            return response
        response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("Pragma", "no-cache")
        return response

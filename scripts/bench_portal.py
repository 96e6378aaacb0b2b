"""The portal as scripts/bench.py serves it: ``portal.create_app`` with two reference pages
added, so that the logged-in pages' ratios can be read against what every logged-in request
costs before a page shows anything. Nothing else of the app changes; the routes exist only in
this module, never in the portal.

- ``/bench/signed-in``: an empty view behind the login (``login_required``) answering "ok":
  the session cookie verified and signed again, the user loaded and checked against the
  session epoch, the transaction, every before/after hook, the security headers.
- ``/bench/frame``: the page frame every portal page has (templates/base.html: the header's
  forms and CSRF token, the navigation, the footer, the time-out dialog) with nothing in it.
"""

from __future__ import annotations

from flask import Flask, render_template
from flask_login import login_required

from portal import create_app

FRAME = '{% extends "base.html" %}{% block content %}{% endblock %}'


def make_app(config: dict | None = None) -> Flask:
    app = create_app(config)
    frame = app.jinja_env.from_string(FRAME)

    @login_required
    def signed_in() -> tuple[str, int, dict[str, str]]:
        return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}

    @login_required
    def page_frame() -> str:
        return render_template(frame)

    app.add_url_rule("/bench/signed-in", "bench_signed_in", signed_in)
    app.add_url_rule("/bench/frame", "bench_frame", page_frame)
    return app

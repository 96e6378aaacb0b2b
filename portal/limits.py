"""Per-client rate limits (Flask-Limiter) on the routes that cost the portal or its citizens
something when hammered: logging in, registering, SMS codes, verifying licences and notices,
the kiosk's case check, uploads and guide PDFs.

The client is ``request.remote_addr`` as the trusted proxies saw it (``PROXY_HOPS``). Counts
live in memory (one process) unless ``REDIS_URL`` is set, when every worker and every machine
shares them. Each limit is read from the configuration at request time (``RATE_LIMITS``), so a
city can tune them; the account-level rules (login throttling, SMS code limits, upload quota)
live in the services and hold whatever the client address is.
"""

from __future__ import annotations

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# endpoint → (the RATE_LIMITS entry, the methods counted)
LIMITED = {
    "auth.login": ("login", ["POST"]),
    "auth.second_factor": ("login", ["POST"]),
    "auth.register": ("register", ["POST"]),
    "auth.register_code": ("sms_code", ["POST"]),
    "auth.forgot": ("sms_code", ["POST"]),
    "auth.forgot_code": ("sms_code", ["POST"]),
    "auth.change_phone": ("sms_code", ["POST"]),
    "auth.change_phone_code": ("sms_code", ["POST"]),
    "auth.resend_code": ("sms_code", ["POST"]),
    "elicences.verify": ("verify", ["POST"]),
    "elicences.verify_by_code": ("verify", ["GET"]),
    "notices.verify": ("verify", ["GET"]),
    "kiosk.case_status": ("kiosk_case", ["POST"]),
    "documents.upload": ("upload", ["POST"]),
    "apply.upload_material": ("upload", ["POST"]),
    "apply.bundle_upload": ("upload", ["POST"]),
    "apply.correction_upload": ("upload", ["POST"]),
    "catalogue.guide_pdf": ("pdf", ["GET"]),
    "catalogue.checklist_pdf": ("pdf", ["GET"]),
}

DEFAULT_RATE_LIMITS = {
    "login": "20 per minute; 200 per hour",
    "register": "10 per hour",
    "sms_code": "10 per minute; 60 per hour",
    "verify": "30 per minute; 300 per hour",
    "kiosk_case": "20 per minute",
    "upload": "30 per minute",
    "pdf": "20 per minute",
}


def _limit_for(name: str):
    def value() -> str:
        return current_app.config["RATE_LIMITS"].get(name, DEFAULT_RATE_LIMITS[name])

    return value


def register_limits(app: Flask) -> Limiter:
    """A limiter for this app, wrapping the listed views (after every blueprint is
    registered). One per app: a limiter shared by several apps in one process would count
    each request once per app."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter = Limiter(key_func=get_remote_address, app=app)
    for endpoint, (name, methods) in LIMITED.items():
        view = app.view_functions.get(endpoint)
        if view is not None:
            app.view_functions[endpoint] = limiter.limit(
                _limit_for(name), methods=methods, scope=name
            )(view)
    return limiter


def limiter_of(app: Flask) -> Limiter:
    return next(iter(app.extensions["limiter"]))

"""The portal's application factory."""

from __future__ import annotations

import gc
import logging
from pathlib import Path

from flask import Flask, abort, g, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import database
from portal.config import INSTANCE_DIR, PROJECT_ROOT, load_config
from portal.extensions import babel, csrf, db, login_manager, migrate

STATIC_PREFIX = "/static/"
SESSION_SERIALIZER = "session_serializer"  # app.extensions: (the keys, their serializer)
# the environ key of a session cookie the fast path verified and Flask must answer: (cookie,
# its data); set by portal/fastpath.py, taken by PortalSessionInterface.open_session
VERIFIED_SESSION = "portal.verified_session"


class PortalSessionInterface(SecureCookieSessionInterface):
    """Background requests (autosave) keep the session's expiry where it was.

    Otherwise a periodic autosave would keep an idle session alive for ever, and the
    timeout warning the page shows would no longer tell the truth."""

    def get_signing_serializer(self, app: Flask):
        """Made once per key: Flask makes a new serializer twice a request (to open the
        session and to sign it again), deriving nothing it could not keep."""
        if not app.secret_key:
            return None
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        made = app.extensions.get(SESSION_SERIALIZER)
        if made is None or made[0] != keys:
            made = app.extensions[SESSION_SERIALIZER] = (
                keys,
                super().get_signing_serializer(app),
            )
        return made[1]

    def open_session(self, app: Flask, request):
        """Static files never read the session: no cookie to verify, none to sign. A cookie
        the fast path has verified already (a logged-in reader's) is not verified again."""
        if request.path.startswith(STATIC_PREFIX):
            return self.session_class()
        verified = request.environ.pop(VERIFIED_SESSION, None)
        if verified is not None and verified[0] == request.cookies.get(self.get_cookie_name(app)):
            return self.session_class(verified[1])
        return super().open_session(app, request)

    def save_session(self, app: Flask, session, response) -> None:
        if request.path.startswith(STATIC_PREFIX):  # the throwaway session above: never saved
            return
        super().save_session(app, session, response)

    def should_set_cookie(self, app: Flask, session) -> bool:
        if request.blueprint == "ops":  # health checks and metrics have no session
            return False
        if request.headers.get("X-Requested-With") == "autosave":
            return session.modified
        return super().should_set_cookie(app, session)


def select_locale() -> str:
    if not has_request_context():  # the CLI and scheduled jobs speak Chinese
        return "zh_CN"
    languages = ("zh_CN", "en")
    # an anonymous reader's session has no user id: no need to load the user (every page asks)
    if (
        session.get("_user_id") is not None
        and current_user.is_authenticated
        and current_user.locale in languages
    ):
        return current_user.locale
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    return "zh_CN"


def security_headers(config) -> tuple[tuple[str, str], ...]:
    """The headers every answer carries (unless it set its own); portal/fastpath.py sends
    them too."""
    headers = [
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        (
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
        ),
        # the counter scans with the camera; nothing else needs a device
        (
            "Permissions-Policy",
            "camera=(self), microphone=(), geolocation=(), payment=(), usb=(), "
            "serial=(), bluetooth=(), interest-cohort=()",
        ),
    ]
    if config["PORTAL_ENV"] == "production":  # production is served over TLS only
        headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    return tuple(headers)


def trust_proxies(app: Flask, hops: int) -> None:
    """Take the client's address, scheme and host from the headers of the last ``hops``
    proxies (PROXY_HOPS); with 0, a forged X-Forwarded-For changes nothing."""
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def create_app(config: dict | None = None) -> Flask:
    """Build the portal. ``config`` overrides the environment (tests pass their own)."""
    from portal.params import BoundedIntConverter
    from portal.transaction import Portal

    app = Portal(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=str(INSTANCE_DIR),
    )
    app.config.update(load_config(config))
    if not app.config.get("STORAGE_URL"):  # files in the local folder (else in S3)
        Path(app.config["UPLOAD_DIR"]).mkdir(parents=True, exist_ok=True)
    from datetime import timedelta

    app.permanent_session_lifetime = timedelta(
        minutes=float(app.config["PERMANENT_SESSION_MINUTES"])
    )
    app.url_map.converters["int"] = BoundedIntConverter  # before any route is added
    from portal.fastpath import FastPath

    app.wsgi_app = FastPath(app, app.wsgi_app)  # cached anonymous pages; inside the ProxyFix
    trust_proxies(app, int(app.config["PROXY_HOPS"]))
    database.configure_sqlite(int(app.config["SQLITE_BUSY_TIMEOUT_MS"]))
    app.session_interface = PortalSessionInterface()

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name != "sqlite":  # a file has no connection to lose
            database.ping_when_idle(db.engine, float(app.config["DB_PING_AFTER_IDLE_SECONDS"]))
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(PROJECT_ROOT / "translations"),
    )
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"

    from portal import models  # noqa: F401  (register the mappers)
    from portal.admin import bp as admin_bp
    from portal.admin import downloads_bp
    from portal.apply import bp as apply_bp
    from portal.appointments import bp as appointments_bp
    from portal.assets import register_assets
    from portal.auth import bp as auth_bp
    from portal.caching import register_cache_policy
    from portal.catalogue import bp as catalogue_bp
    from portal.celery_app import register_task_queue
    from portal.cli import register_cli
    from portal.counter import bp as counter_bp
    from portal.documents import bp as documents_bp
    from portal.documents import verify_bp
    from portal.errors import register_error_handlers
    from portal.kiosk import bp as kiosk_bp
    from portal.limits import register_limits
    from portal.logging_setup import register_request_ids
    from portal.main import bp as main_bp
    from portal.ops import register_ops
    from portal.queue import bp as queue_bp
    from portal.review import admin_bp as review_admin_bp
    from portal.review import bp as review_bp
    from portal.review import public_bp as notices_bp
    from portal.statistics import admin_bp as statistics_admin_bp
    from portal.statistics import department_bp as statistics_department_bp
    from portal.statistics import public_bp as performance_bp
    from portal.templating import register_template_helpers

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(apply_bp)
    app.register_blueprint(documents_bp, url_prefix="/documents")
    app.register_blueprint(verify_bp)
    app.register_blueprint(catalogue_bp)  # /catalogue, /search, /items/…, /bundles/…
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(downloads_bp, url_prefix="/downloads")
    app.register_blueprint(review_bp)
    app.register_blueprint(review_admin_bp)
    app.register_blueprint(notices_bp)
    app.register_blueprint(counter_bp)
    app.register_blueprint(queue_bp)
    app.register_blueprint(kiosk_bp)
    app.register_blueprint(appointments_bp)
    app.register_blueprint(statistics_admin_bp)  # /admin/statistics
    app.register_blueprint(statistics_department_bp)  # /review/statistics
    app.register_blueprint(performance_bp)  # /performance
    register_error_handlers(app)
    register_template_helpers(app)
    register_cli(app)
    register_cache_policy(app)
    register_assets(app)  # static URLs with a content hash; gzip
    register_limits(app)
    register_request_ids(app)
    register_ops(app)
    register_task_queue(app)

    @app.before_request
    def _drop_nul_bytes() -> None:
        """No text a person types holds a NUL byte, and PostgreSQL refuses one in any text
        column: NULs are removed from query strings and forms before any view reads them
        (a view still judges what is left), and a path holding one is a 400."""
        if "\x00" in request.path:
            abort(400)
        raw = request.query_string
        if b"%00" not in raw and b"\x00" not in raw and request.method in ("GET", "HEAD"):
            return  # nothing to clean, and no form to parse (every page pays this check)
        for name in ("args", "form"):
            values = getattr(request, name)
            if any("\x00" in k or "\x00" in v for k, v in values.items(multi=True)):
                setattr(
                    request,
                    name,
                    ImmutableMultiDict(
                        (k.replace("\x00", ""), v.replace("\x00", ""))
                        for k, v in values.items(multi=True)
                    ),
                )

    @app.before_request
    def _declare_read_only() -> None:
        g._db_mode_token = database.set_read_only(request.method in ("GET", "HEAD"))
        if not session.permanent:
            session.permanent = True  # only once: setting it marks the session modified

    @app.teardown_request
    def _reset_read_only(exc: BaseException | None) -> None:
        token = g.pop("_db_mode_token", None)
        if token is not None:
            database.reset_read_only(token)

    from portal.personal_pages import register_personal_pages

    register_personal_pages(app)  # after the hooks above: the session is as Flask keeps it

    security = security_headers(app.config)

    @app.after_request
    def _security_headers(response):
        for name, value in security:
            response.headers.setdefault(name, value)
        return response

    if app.config["PORTAL_ENV"] == "production":
        logging.basicConfig(level=logging.INFO)
    if not app.testing:
        # what a worker holds for its whole life (modules, mappers, catalogues, the app) is
        # set aside from the cyclic garbage collector: a full collection then walks what the
        # requests made, not the ~430,000 objects the portal is built of (157 ms of CPU once
        # every few hundred requests, which set the logged-in pages' p99; about 4 ms after)
        gc.freeze()
    return app

"""Every configuration key with its default; overrides come from the environment."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"

DEFAULTS: dict[str, object] = {
    "PORTAL_ENV": "development",
    "DATABASE_URL": f"sqlite:///{INSTANCE_DIR / 'portal.db'}",
    "POSTGRES_JIT": False,  # PostgreSQL's JIT for the portal's connections (off: see below)
    # a pooled server connection idle this long is tested before use (portal/database.py)
    "DB_PING_AFTER_IDLE_SECONDS": 10,
    "SECRET_KEY": None,
    "UPLOAD_DIR": str(INSTANCE_DIR / "uploads"),
    # where stored files live (services/storage.py): empty = the local directory UPLOAD_DIR;
    # s3://bucket/prefix = an S3-compatible store (MinIO, SeaweedFS, a cloud's), whose address
    # is STORAGE_S3_ENDPOINT_URL (empty: AWS itself) and whose keys are STORAGE_S3_ACCESS_KEY /
    # STORAGE_S3_SECRET_KEY (empty: boto3's usual AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
    # ~/.aws or an instance role). Timeouts in seconds; attempts include the first try.
    "STORAGE_URL": "",
    "STORAGE_S3_ENDPOINT_URL": "",
    "STORAGE_S3_REGION": "us-east-1",
    "STORAGE_S3_ACCESS_KEY": "",
    "STORAGE_S3_SECRET_KEY": "",
    "STORAGE_S3_CONNECT_TIMEOUT": 5,
    "STORAGE_S3_READ_TIMEOUT": 60,
    "STORAGE_S3_MAX_ATTEMPTS": 4,
    "MAX_UPLOAD_MB": 20,
    # a citizen's library: uploads a day into it, and documents it may hold
    "UPLOADS_PER_DAY": 60,
    "LIBRARY_MAX_DOCUMENTS": 300,
    "SQLITE_BUSY_TIMEOUT_MS": 15000,
    "BABEL_DEFAULT_LOCALE": "zh_CN",
    # the city's zone: instants are stored in UTC; every date or time a person or a deadline
    # sees is in this zone (services/clock.py)
    "PORTAL_TZ": "Asia/Shanghai",
    "LANGUAGES": ("zh_CN", "en"),
    "SERVICE_HOTLINE": "12345",
    "SERVICE_HALL_ADDRESS": "市民服务中心（人民路 100 号）",
    "SERVICE_HALL_HOURS": "周一至周五 9:00-17:00，周六 9:00-12:00",
    "SITE_NAME": "一网通办",
    "LOGIN_MAX_FAILURES": 5,
    # proxies in front of the portal whose X-Forwarded-For / -Proto / -Host are trusted (nginx: 1);
    # 0 trusts none, so a client cannot choose the address its limits are counted on
    "PROXY_HOPS": 0,
    "LOGIN_FAILURE_WINDOW_MINUTES": 15,
    # per-client rate limits by name (portal/limits.py: DEFAULT_RATE_LIMITS), e.g.
    # {"login": "20 per minute; 200 per hour"}; counted in Redis when REDIS_URL is set
    "RATE_LIMITS": {},
    "REDIS_URL": "",
    # the ops kit (portal/ops.py, portal/logging_setup.py): /metrics answers only a bearer of
    # this token (unset: refused); log lines are "json" or "text" (empty: json in production)
    "METRICS_TOKEN": "",
    "LOG_FORMAT": "",
    # background tasks (services/tasks.py, portal/celery_app.py): with a broker (a Redis URL,
    # e.g. REDIS_URL's server with another database number) notice PDFs, the SMS outbox and the
    # scheduled jobs run in Celery workers; without one they run in-process as before. A task
    # whose worker died is handed to another after TASK_VISIBILITY_TIMEOUT_SECONDS
    "CELERY_BROKER_URL": "",
    "TASK_VISIBILITY_TIMEOUT_SECONDS": 300,
    "NOTICE_RENDER_DELAY_MS": 0,  # tests only: a pause between storing a notice and attaching it
    # SMS codes (services/sms_codes.py): registration, 忘记密码, change of phone
    "SMS_CODE_MINUTES": 10,  # how long a code is valid
    "SMS_CODE_MAX_TRIES": 5,  # wrong tries before a code is dead
    "SMS_CODE_RESEND_SECONDS": 60,  # the wait before another code for the same flow
    "SMS_CODES_PER_PHONE_HOUR": 5,  # codes sent to one phone in any hour
    "SMS_CODES_PER_CLIENT_HOUR": 20,  # codes asked for from one address (IPv6: a /64) in any hour
    # staff two-factor login: wrong codes allowed per account and per client address in the
    # window before even a right code is refused; a half-finished login expires after
    # STAFF_LOGIN_STEP_MINUTES
    "SECOND_FACTOR_MAX_FAILURES": 5,
    "SECOND_FACTOR_MAX_FAILURES_PER_CLIENT": 20,
    "SECOND_FACTOR_WINDOW_MINUTES": 15,
    "STAFF_LOGIN_STEP_MINUTES": 10,
    "PERMANENT_SESSION_MINUTES": 30,
    # werkzeug's method for new password hashes; login checks a hash made with any method.
    # The tests use a cheap one; keep a slow one (scrypt) everywhere else.
    "PASSWORD_HASH_METHOD": "scrypt",
    "MESSAGE_SENDER": "services.messages:LogSender",
    # the portal's address as the public reaches it (https://zwfw.example.gov.cn): the QR codes
    # on e-licences and notices point here. Required in production; `make run` sets it from the
    # address it binds; otherwise LOCAL_BASE_URL
    "PUBLIC_BASE_URL": None,
    # failed e-licence verifications allowed per address and per licence number in the window
    "VERIFY_MAX_FAILURES": 10,
    "VERIFY_FAILURE_WINDOW_MINUTES": 15,
    # caches (services/cache.py): values kept per process (without Redis) or in front of Redis
    # (REDIS_URL); the publish generation in CACHE_GENERATION_FILE without Redis (empty: one
    # file per database in the system's temporary directory, shared by this machine's workers)
    "CACHE_SIZE": 2048,
    "CACHE_GENERATION_FILE": "",
    "PAGE_CACHE": True,  # anonymous catalogue pages from the cache (portal/caching.py)
    "PAGE_FAST_PATH": True,  # … answered in front of Flask when they are there (portal/fastpath.py)
    "GUIDE_CACHE_SIZE": 512,  # 0 turns off the rendered guides' cache (services/guide_cache.py)
    # personal pages kept per process until their data changes (portal/personal_pages.py)
    "PERSONAL_PAGE_CACHE": True,
    "PERSONAL_CACHE_SIZE": 512,
    "PERSONAL_CACHE_SECONDS": 600,
    "KIOSK_IDLE_SECONDS": 120,  # 自助终端: no input for this long shows the countdown dialog
    "KIOSK_COUNTDOWN_SECONDS": 20,  # then the kiosk returns to its start and forgets everything
    "APPOINTMENT_WEEKS_AHEAD": 4,  # weeks of appointment slots `flask jobs run` keeps open
    "QUEUE_POLL_MS": 2000,  # how often the call display asks for new calls
    "QUEUE_DESK_POLL_MS": 5000,  # how often the clerk's desk refreshes its counts and help requests
    # four-eyes publishing: whoever submitted a guide version for review cannot publish it;
    # False lets one admin do both (a small county with one editor)
    "PUBLISH_FOUR_EYES": True,
}

MIN_SECRET_BYTES = 32
LOCAL_BASE_URL = "http://127.0.0.1:5000"
FORM_OVERHEAD_BYTES = 256 * 1024


class ConfigError(RuntimeError):
    """Raised when the configuration would make the portal unsafe to run."""


def _local_secret() -> str:
    """A secret generated once for local runs and kept in instance/."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _public_base_url(value: object, production: bool) -> str:
    """A printed QR code cannot be corrected later: in production the address must be given."""
    if not value:
        if production:
            raise ConfigError(
                "PUBLIC_BASE_URL must be set in production (the address QR codes point to)"
            )
        return LOCAL_BASE_URL
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"PUBLIC_BASE_URL is not an http(s) address: {value!r}")
    return str(value).rstrip("/")


def load_config(overrides: dict | None = None) -> dict:
    """Build the Flask config: defaults, then the environment, then explicit overrides."""
    overrides = overrides or {}
    cfg: dict[str, object] = {}
    for key, default in DEFAULTS.items():
        value = os.environ.get(key, default)
        if isinstance(default, bool) and isinstance(value, str):
            value = value.strip().lower() in ("1", "true", "yes", "on")
        elif isinstance(default, int) and isinstance(value, str):
            value = int(value)
        elif isinstance(default, dict) and isinstance(value, str):
            value = json.loads(value)  # e.g. RATE_LIMITS='{"login": "20 per minute"}'
        cfg[key] = value
    cfg.update(overrides)

    production = cfg["PORTAL_ENV"] == "production"
    if not cfg.get("SECRET_KEY"):
        if production:
            raise ConfigError("SECRET_KEY must be set in production")
        cfg["SECRET_KEY"] = _local_secret()
    if production and len(str(cfg["SECRET_KEY"]).encode()) < MIN_SECRET_BYTES:
        raise ConfigError(f"SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes in production")

    cfg["PUBLIC_BASE_URL"] = _public_base_url(cfg.get("PUBLIC_BASE_URL"), production)
    storage_url = str(cfg.get("STORAGE_URL") or "").strip()
    if storage_url and (urlsplit(storage_url).scheme != "s3" or not urlsplit(storage_url).netloc):
        raise ConfigError(
            "STORAGE_URL must be empty (files in UPLOAD_DIR) or s3://bucket/prefix, "
            f"not {storage_url!r}"
        )

    url = str(cfg["DATABASE_URL"])
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        # relative SQLite paths are relative to the project root, not the working directory
        url = f"sqlite:///{PROJECT_ROOT / url[len('sqlite:///') :]}"
    cfg["SQLALCHEMY_DATABASE_URI"] = url
    try:
        ZoneInfo(str(cfg["PORTAL_TZ"]))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"PORTAL_TZ is not a known time zone: {cfg['PORTAL_TZ']!r}") from None
    cfg["BABEL_DEFAULT_TIMEZONE"] = cfg["PORTAL_TZ"]
    # a server's connection can drop (a restart, a fail-over, an idle timeout): one that has
    # been idle is tested before use (portal/database.ping_when_idle, not pool_pre_ping's
    # round trip on every request); a SQLite file has no connection to lose
    cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {}
    if url.startswith("postgresql") and not cfg["POSTGRES_JIT"]:
        # the portal's statements are short look-ups: PostgreSQL's JIT compiled one of them for
        # 10 ms (我的材料 at a million cases, on a cost misjudged from sparse statistics) to
        # run a 0.2 ms plan; a pooler that refuses start-up options needs POSTGRES_JIT=true and
        # `ALTER DATABASE … SET jit = off` instead
        cfg["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"] = {"options": "-c jit=off"}
    # the whole request may carry one file of MAX_UPLOAD_MB plus the form around it, so that a
    # file just over the limit gets a message next to the field rather than a bare 413 page
    cfg["MAX_CONTENT_LENGTH"] = int(cfg["MAX_UPLOAD_MB"]) * 1024 * 1024 + FORM_OVERHEAD_BYTES
    cfg["SESSION_COOKIE_HTTPONLY"] = True
    cfg["SESSION_COOKIE_SAMESITE"] = "Lax"
    cfg["SESSION_COOKIE_SECURE"] = production
    cfg["REMEMBER_COOKIE_HTTPONLY"] = True
    cfg["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    cfg["REMEMBER_COOKIE_SECURE"] = production
    cfg["WTF_CSRF_TIME_LIMIT"] = None  # tied to the session instead, so long forms never expire
    cfg["DEBUG"] = False
    cfg["PROPAGATE_EXCEPTIONS"] = cfg.get("PROPAGATE_EXCEPTIONS", False)
    return cfg

"""Caches every worker and node agrees on: in-process by default, Redis when REDIS_URL is set.

The API, small on purpose (all functions need an app context):

- ``get(key)`` / ``set(key, value, ttl=None)``: a value (anything picklable) kept for ``ttl``
  seconds at most (None: until it is pushed out). ``get`` answers None for a missing entry.
- ``get_or_set(key, make, ttl=None)``: the cached value, or ``make()`` stored and returned.
- ``generation()``: the catalogue's publish generation, an opaque token read once per request
  (Flask's ``g``). Keys that contain it (``scoped(...)``) never go stale: when anything the
  public pages show changes, the token changes and every worker and node asks for new keys.
- ``scoped(*parts)``: a key inside the current generation, for what the public catalogue
  shows (rendered guides and pages, the home page's counts and rankings); ``key_in(token,
  *parts)`` the same for a caller outside an app context that read the token itself
  (``cache_for(app).generation()``: portal/fastpath.py, in front of Flask).
- ``bump_generation()``: a new generation once the current transaction commits (at once
  outside one); a rollback leaves it. Changes to catalogue rows (items, versions, departments,
  material types, themes, bundles) bump it by themselves (``_watch_catalogue`` below); call it
  only for other things a public page shows.

Where things live:

- values: a per-process LRU (CACHE_SIZE entries) without Redis; with REDIS_URL, in Redis
  (pickled under ``portal:cache:``, so only a trusted Redis may be configured) with a small
  per-process LRU in front for ``scoped`` keys only (they never change, so a process may keep
  them; plain keys are read from Redis each time, so a ``set`` on one node is seen on all).
- the generation: with Redis, the key ``portal:generation``; without it, a small file
  (CACHE_GENERATION_FILE, by default one per database under the system's temporary
  directory) that every worker of this machine reads with one ``stat`` per request. Several
  machines therefore need Redis (as they need a shared database).

The token is random, never a counter: a Redis or a file that was lost starts a new token, so
a process can never meet an old generation's entries again.

If Redis does not answer, the portal still answers: a ``get`` is a miss, a ``set`` is
skipped, and the generation is read again on the next request (logged as a warning).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle  # nosec B403: values only ever come from this portal's own Redis
import secrets
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import redis
from flask import current_app, g, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.models import (
    Bundle,
    BundleItem,
    Department,
    ItemVersion,
    MaterialRequirement,
    MaterialType,
    ServiceItem,
    Theme,
)

log = logging.getLogger(__name__)

EXTENSION_KEY = "portal_cache"
REDIS_PREFIX = "portal:cache:"
REDIS_GENERATION_KEY = "portal:generation"
DEFAULT_SIZE = 2048
_MISSING = object()
_PENDING_BUMP = "cache_generation_bump"
# rows whose change can show on a public page: a commit touching one starts a new generation
CATALOGUE_MODELS = (
    ServiceItem,
    ItemVersion,
    Department,
    MaterialType,
    MaterialRequirement,
    Theme,
    Bundle,
    BundleItem,
)


class LRUCache:
    """A thread-safe least-recently-used mapping of bounded size; each entry may expire
    ``ttl`` seconds after it was stored (the entry's own ttl, else the cache's; None: never)."""

    def __init__(
        self, maxsize: int, ttl: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.maxsize = maxsize
        self.ttl = ttl
        self.clock = clock
        self._data: OrderedDict[Hashable, tuple[float | None, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            entry = self._data.pop(key, None)
            if entry is None or (entry[0] is not None and self.clock() >= entry[0]):
                self.misses += 1
                return None
            self._data[key] = entry
            self.hits += 1
            return entry[1]

    def put(self, key: Hashable, value: Any, ttl: float | None = None) -> None:
        if self.maxsize <= 0:
            return
        ttl = self.ttl if ttl is None else ttl
        expires = None if ttl is None else self.clock() + ttl
        with self._lock:
            self._data.pop(key, None)
            self._data[key] = (expires, value)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def delete(self, key: Hashable) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class FileGeneration:
    """The generation token in a file: replaced atomically, re-read only when its inode or
    modification time changed (one ``stat`` per request)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._token = ""
        self._lock = threading.Lock()

    def read(self) -> str:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return self._create()
        stamp = (st.st_ino, st.st_mtime_ns)
        if stamp != self._seen:
            with self._lock:
                try:
                    token = self.path.read_text().strip()
                except FileNotFoundError:
                    return self._create()
                if not token:
                    return self._create()
                self._seen, self._token = stamp, token
        return self._token

    def _create(self) -> str:
        """A first (or lost) file: write a new token unless another process just did."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(8)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return self.path.read_text().strip() or self.bump()
        with os.fdopen(fd, "w") as fh:
            fh.write(token)
        return token

    def bump(self) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(8)
        tmp = self.path.with_name(f"{self.path.name}.{secrets.token_hex(4)}.tmp")
        tmp.write_text(token)
        os.replace(tmp, self.path)
        return token


class RedisGeneration:
    def __init__(self, client) -> None:
        self.client = client

    def read(self) -> str:
        raw = self.client.get(REDIS_GENERATION_KEY)
        if raw is None:
            self.client.set(REDIS_GENERATION_KEY, secrets.token_hex(8), nx=True)
            raw = self.client.get(REDIS_GENERATION_KEY)
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    def bump(self) -> str:
        token = secrets.token_hex(8)
        self.client.set(REDIS_GENERATION_KEY, token)
        return token


class Cache:
    """One app's cache: the values' store and the generation's."""

    def __init__(self, size: int, generation_file: Path, redis_url: str = "") -> None:
        self.local = LRUCache(size)
        self.redis = None
        if redis_url:
            self.redis = redis.Redis.from_url(redis_url, socket_timeout=1.0)
            self.generations: FileGeneration | RedisGeneration = RedisGeneration(self.redis)
        else:
            self.generations = FileGeneration(generation_file)

    @property
    def backend(self) -> str:
        return "redis" if self.redis is not None else "memory"

    def get(self, key: str, *, immutable: bool = False) -> Any | None:
        if self.redis is None or immutable:
            value = self.local.get(key)
            if value is not None or self.redis is None:
                return value
        try:
            raw = self.redis.get(REDIS_PREFIX + key)
        except Exception:  # an unreachable Redis is a miss, never an error page
            log.warning("cache: Redis did not answer a get", exc_info=True)
            return None
        if raw is None:
            return None
        value = pickle.loads(raw)  # nosec B301: written by this portal into its own Redis
        if immutable:
            self.local.put(key, value)
        return value

    def set(self, key: str, value: Any, ttl: float | None = None, *, immutable: bool = False):
        if self.redis is None or immutable:
            self.local.put(key, value, ttl)
            if self.redis is None:
                return
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            if ttl is None:
                self.redis.set(REDIS_PREFIX + key, data)
            else:
                self.redis.set(REDIS_PREFIX + key, data, ex=max(1, int(ttl)))
        except Exception:
            log.warning("cache: Redis did not answer a set", exc_info=True)

    def delete(self, key: str) -> None:
        self.local.delete(key)
        if self.redis is not None:
            try:
                self.redis.delete(REDIS_PREFIX + key)
            except Exception:
                log.warning("cache: Redis did not answer a delete", exc_info=True)

    def generation(self) -> str:
        return self.generations.read()

    def bump(self) -> str:
        return self.generations.bump()


def default_generation_file(database_url: str) -> Path:
    """One file per database, so that apps on one database (the workers of a gunicorn, two
    test apps) share it and apps on different databases do not."""
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"portal-cache-generation-{digest}"


def cache_for(app) -> Cache:
    cache = app.extensions.get(EXTENSION_KEY)
    if cache is None:
        config = app.config
        path = config.get("CACHE_GENERATION_FILE") or default_generation_file(
            str(config.get("DATABASE_URL") or config.get("SQLALCHEMY_DATABASE_URI") or "")
        )
        cache = app.extensions.setdefault(
            EXTENSION_KEY,
            Cache(
                int(config.get("CACHE_SIZE", DEFAULT_SIZE)),
                Path(path),
                str(config.get("REDIS_URL") or ""),
            ),
        )
    return cache


def current() -> Cache:
    """The current app's cache (made on first use)."""
    return cache_for(current_app)


def get(key: str) -> Any | None:
    return current().get(key)


def set(key: str, value: Any, ttl: float | None = None) -> None:  # noqa: A001  (the API's word)
    current().set(key, value, ttl)


def get_or_set(key: str, make: Callable[[], Any], ttl: float | None = None) -> Any:
    """The cached value of ``key``, else ``make()`` (stored unless it is None)."""
    value = current().get(key)
    if value is None:
        value = make()
        if value is not None:
            current().set(key, value, ttl)
    return value


def generation() -> str:
    """The publish generation this request sees (read once per request)."""
    token = g.get("_cache_generation")
    if token is None:
        try:
            token = current().generation()
        except Exception:  # Redis down: a key no one else uses, so nothing stale is served
            log.warning("cache: the generation could not be read", exc_info=True)
            token = "unavailable-" + secrets.token_hex(8)
        g._cache_generation = token
    return token


def scoped(*parts: object) -> str:
    """A key inside the current generation (what the public catalogue shows)."""
    return key_in(generation(), *parts)


def key_in(token: str, *parts: object) -> str:
    """A key inside the generation ``token`` (for a caller without an app context, which
    reads the token from ``cache_for(app).generation()`` itself: portal/fastpath.py)."""
    return "g:" + token + ":" + ":".join(str(p) for p in parts)


def get_scoped(*parts: object) -> Any | None:
    return current().get(scoped(*parts), immutable=True)


def set_scoped(value: Any, *parts: object) -> None:
    current().set(scoped(*parts), value, immutable=True)


def get_or_set_scoped(make: Callable[[], Any], *parts: object) -> Any:
    """``get_or_set`` for a key inside the current generation."""
    value = get_scoped(*parts)
    if value is None:
        value = make()
        if value is not None:
            set_scoped(value, *parts)
    return value


def bump_generation() -> None:
    """Start a new generation once the current transaction commits (at once when none is
    open; a no-op outside an app context). Bumped before the commit, a reader in between
    would cache the old content under the new generation."""
    if not has_app_context():
        return
    cache = current()
    session = db.session()
    if session.in_transaction():
        session.info.setdefault(_PENDING_BUMP, {})[id(cache)] = cache
    else:
        _bump(cache)


def _bump(cache: Cache) -> None:
    try:
        cache.bump()
    except Exception:  # Redis down: say so loudly; pages keep the old generation
        log.error("cache: the generation could not be bumped", exc_info=True)
    if has_app_context():
        g.pop("_cache_generation", None)


def forget_everything(app) -> None:
    """Drop this app's cached values and start a new generation (tests, after a rollback that
    the caches cannot see)."""
    cache = cache_for(app)
    cache.local.clear()
    _bump(cache)


@event.listens_for(Session, "before_flush")
def _watch_catalogue(session: Session, flush_context, instances) -> None:
    """A flush that changes a catalogue row asks for a new generation after the commit."""
    if not has_app_context():
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, CATALOGUE_MODELS):
            if obj in session.dirty and not session.is_modified(obj):
                continue
            cache = current()
            session.info.setdefault(_PENDING_BUMP, {})[id(cache)] = cache
            return


@event.listens_for(Session, "after_commit")
def _bump_after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint: the transaction may still roll back
        return
    for cache in session.info.pop(_PENDING_BUMP, {}).values():
        _bump(cache)


@event.listens_for(Session, "after_transaction_end")
def _forget_after_rollback(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING_BUMP, None)

"""A small in-process LRU cache of rendered guide pages (办事指南).

Why it is safe: a published version is never edited in place (services/catalogue/), so the
guide rendered from it never changes. The key is (version id, its published_at, locale):
publishing a new version gives the item a new version id, so readers get the new guide at
once, even in another worker process whose cache was not cleared.

What is cached: only the HTML fragment every reader sees. The per-reader parts (which of the
materials a logged-in citizen already has on file, the bundles an item belongs to, the CSRF
tokens of the page chrome) are added on each request.

Limits: the cache lives in each process (app.extensions["guide_cache"]), holds at most
GUIDE_CACHE_SIZE entries (0 turns it off) and is cleared by clear_guide_cache(), which
services.catalogue.publish_version calls; the clearing waits for the commit of the change (a
reader in between would otherwise cache the old guide again). A guide also shows a few shared records that are not
part of the version (the department's name, material type and theme names): whoever edits
those should call clear_guide_cache(); other worker processes pick the change up when their
entries expire, GUIDE_CACHE_SECONDS after they were rendered.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.extensions import db

EXTENSION_KEY = "guide_cache"


class LRUCache:
    """A thread-safe least-recently-used mapping of bounded size whose entries expire
    ``ttl`` seconds after they were stored (None: never)."""

    def __init__(
        self, maxsize: int, ttl: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.maxsize = maxsize
        self.ttl = ttl
        self.clock = clock
        self._data: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            entry = self._data.pop(key, None)
            if entry is None or (self.ttl is not None and self.clock() - entry[0] >= self.ttl):
                self.misses += 1
                return None
            self._data[key] = entry
            self.hits += 1
            return entry[1]

    def put(self, key: Hashable, value: Any) -> None:
        if self.maxsize <= 0:
            return
        with self._lock:
            self._data.pop(key, None)
            self._data[key] = (self.clock(), value)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


def guide_cache() -> LRUCache:
    """The current app's cache (made on first use)."""
    cache = current_app.extensions.get(EXTENSION_KEY)
    if cache is None:
        config = current_app.config
        cache = current_app.extensions.setdefault(
            EXTENSION_KEY,
            LRUCache(
                int(config.get("GUIDE_CACHE_SIZE", 512)),
                float(config.get("GUIDE_CACHE_SECONDS", 600)),
            ),
        )
    return cache


_STALE = "guide_cache_stale"


def clear_guide_cache() -> None:
    """Forget every rendered guide of the current app once the change that makes them stale
    has committed: at once when no transaction is open, else after the session's commit (a
    no-op outside an app context).

    Cleared before the commit, a reader in between would render the old guide again and keep
    it; a rollback leaves the cache as it was."""
    if not has_app_context():
        return
    cache = guide_cache()
    session = db.session()
    if session.in_transaction():
        session.info.setdefault(_STALE, []).append(cache)
    else:
        cache.clear()


@event.listens_for(Session, "after_commit")
def _clear_after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint: the transaction may still roll back
        return
    for cache in session.info.pop(_STALE, []):
        cache.clear()


@event.listens_for(Session, "after_transaction_end")
def _forget_after_rollback(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_STALE, None)

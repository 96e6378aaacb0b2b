"""Rendered guide pages (办事指南), kept in the portal's cache (services/cache.py).

Why it is safe: a published version is never edited in place (services/catalogue/), so the
guide rendered from it never changes; the few shared records a guide also shows (the
department's name, material type and theme names) are catalogue rows, whose change starts a
new publish generation. Entries are keyed by (version id, its published_at, locale) inside
the current generation, so every worker and node (with Redis) stops using them after the
commit of a publish or an edit: none is ever served stale, on any worker.

What is cached: only the HTML fragment every reader sees. The per-reader parts (which of the
materials a logged-in citizen already has on file, the bundles an item belongs to, the CSRF
tokens of the page chrome) are added on each request.

GUIDE_CACHE_SIZE = 0 turns it off. ``clear_guide_cache()`` starts a new generation after the
commit (services.cache.bump_generation); changes to catalogue rows do that by themselves.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from flask import current_app

from services import cache
from services.cache import LRUCache

__all__ = ["GuideCache", "LRUCache", "clear_guide_cache", "guide_cache"]

EXTENSION_KEY = "guide_cache"


class GuideCache:
    """The guides of one app: entries live in services.cache under the current generation."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        value = cache.get_scoped("guide", repr(key)) if self.enabled else None
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def put(self, key: Hashable, value: Any) -> None:
        if self.enabled:
            cache.set_scoped(value, "guide", repr(key))

    def clear(self) -> None:
        """Forget every cached guide now (a new generation: the other cached pages go too)."""
        cache.forget_everything(current_app)


def guide_cache() -> GuideCache:
    """The current app's guide cache (made on first use)."""
    found = current_app.extensions.get(EXTENSION_KEY)
    if found is None:
        enabled = int(current_app.config.get("GUIDE_CACHE_SIZE", 512)) > 0
        found = current_app.extensions.setdefault(EXTENSION_KEY, GuideCache(enabled))
    return found


def clear_guide_cache() -> None:
    """Stop serving the cached guides once the change that makes them stale has committed (at
    once when no transaction is open; a rollback keeps them; no-op outside an app context)."""
    cache.bump_generation()

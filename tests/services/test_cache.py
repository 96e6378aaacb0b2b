"""services/cache.py: values and the publish generation, in-process and in a real Redis."""

from __future__ import annotations

import pickle

import pytest
import redis
from sqlalchemy import select

from portal.extensions import db
from portal.models import Department, User
from services import cache
from services.cache import REDIS_GENERATION_KEY, REDIS_PREFIX, Cache, FileGeneration, LRUCache
from services.catalogue.departments import update_department
from tests.conftest import dispose_app, make_app
from tests.servers import free_port


def test_entries_may_carry_their_own_ttl():
    now = [0.0]
    lru = LRUCache(10, clock=lambda: now[0])
    lru.put("day", "figures", ttl=60)
    lru.put("forever", "page")
    now[0] = 59.9
    assert lru.get("day") == "figures"
    now[0] = 60.0
    assert lru.get("day") is None and lru.get("forever") == "page"


def test_get_or_set_makes_a_value_once(app_ctx):
    made = []

    def make():
        made.append(1)
        return {"cases": 12}

    assert cache.get_or_set("test:figures", make, ttl=60) == {"cases": 12}
    assert cache.get_or_set("test:figures", make, ttl=60) == {"cases": 12}
    assert made == [1] and cache.get("test:figures") == {"cases": 12}
    cache.set("test:figures", {"cases": 13})
    assert cache.get("test:figures") == {"cases": 13}


def test_scoped_keys_change_with_the_generation(app_ctx):
    cache.set_scoped("old page", "page", "/")
    assert cache.get_scoped("page", "/") == "old page"
    cache.bump_generation()  # no transaction open: at once
    assert cache.get_scoped("page", "/") is None


def test_a_generation_file_is_shared_and_never_returns_to_an_old_token(tmp_path):
    path = tmp_path / "generation"
    one, two = FileGeneration(path), FileGeneration(path)
    first = one.read()
    assert first and two.read() == first
    bumped = two.bump()
    assert one.read() == bumped != first
    path.unlink()  # a cleaned temporary directory: a new token, not the first one again
    again = one.read()
    assert again not in (first, bumped) and two.read() == again


# --- Redis ---------------------------------------------------------------------------------


def nodes(url: str, tmp_path) -> tuple[Cache, Cache]:
    """Two nodes' caches on one Redis, each with its own generation file (never used)."""
    return Cache(64, tmp_path / "a", url), Cache(64, tmp_path / "b", url)


def test_redis_values_are_shared_between_nodes(clean_redis, tmp_path):
    a, b = nodes(clean_redis, tmp_path)
    assert a.backend == "redis"
    a.set("figures:2026-12-02", {"cases": 7}, ttl=3600)
    assert b.get("figures:2026-12-02") == {"cases": 7}
    b.set("figures:2026-12-02", {"cases": 8}, ttl=3600)
    assert a.get("figures:2026-12-02") == {"cases": 8}  # plain keys: never a stale local copy
    client = redis.Redis.from_url(clean_redis)
    assert 0 < client.ttl(REDIS_PREFIX + "figures:2026-12-02") <= 3600
    assert pickle.loads(client.get(REDIS_PREFIX + "figures:2026-12-02")) == {"cases": 8}
    a.delete("figures:2026-12-02")
    assert b.get("figures:2026-12-02") is None


def test_a_bump_on_one_node_is_the_generation_of_every_node(clean_redis, tmp_path):
    a, b = nodes(clean_redis, tmp_path)
    first = a.generation()
    assert b.generation() == first
    a.set("g:" + first + ":page", "old", immutable=True)
    assert b.get("g:" + first + ":page", immutable=True) == "old"
    b.bump()
    assert a.generation() != first
    assert redis.Redis.from_url(clean_redis).get(REDIS_GENERATION_KEY).decode() == a.generation()


def test_a_flushed_redis_starts_a_new_generation(clean_redis, tmp_path):
    a, _ = nodes(clean_redis, tmp_path)
    first = a.generation()
    redis.Redis.from_url(clean_redis).flushall()
    assert a.generation() != first


def test_an_unreachable_redis_is_a_miss_not_an_error(app_ctx, tmp_path):
    down = Cache(8, tmp_path / "g", f"redis://127.0.0.1:{free_port()}/0")
    down.set("k", "v")
    assert down.get("k") is None
    app_ctx.extensions[cache.EXTENSION_KEY], kept = down, app_ctx.extensions[cache.EXTENSION_KEY]
    try:
        token = cache.generation()
        assert token.startswith("unavailable-")
        assert cache.get_or_set("k", lambda: "made") == "made"
    finally:
        app_ctx.extensions[cache.EXTENSION_KEY] = kept


def test_two_nodes_on_redis_serve_a_rename_at_once(database_factory, clean_redis, tmp_path):
    """Two app instances ("nodes") with their own generation files, sharing one database and
    one Redis: a rename through one is shown at once by the other."""
    first = database_factory(
        "cache-redis", seed=True, REDIS_URL=clean_redis, CACHE_GENERATION_FILE=str(tmp_path / "1")
    )
    second = make_app(
        first.config["DATABASE_URL"],
        tmp_path / "uploads",
        REDIS_URL=clean_redis,
        CACHE_GENERATION_FILE=str(tmp_path / "2"),
    )
    try:
        readers = [first.test_client(), second.test_client()]
        for reader in readers:
            assert "市公安局（新名）" not in reader.get("/items/330100GA0001").get_data(
                as_text=True
            )
        with first.app_context():
            dept = db.session.scalar(select(Department).where(Department.code == "GA"))
            admin = db.session.scalar(select(User).where(User.username == "admin"))
            update_department(
                dept,
                name="市公安局（新名）",
                phone=dept.phone,
                address=dept.address,
                hours=dept.hours,
                actor=admin,
            )
            db.session.commit()
            db.session.remove()
        for reader in reversed(readers):
            assert "市公安局（新名）" in reader.get("/items/330100GA0001").get_data(as_text=True)
            assert "市公安局（新名）" in reader.get("/").get_data(as_text=True)
        with second.app_context():
            assert cache.current().backend == "redis"
    finally:
        dispose_app(second)


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_get_or_set_on_both_backends(backend, request, app, tmp_path):
    url = request.getfixturevalue("clean_redis") if backend == "redis" else ""
    node = Cache(8, tmp_path / "g", url)
    calls = []
    for _ in range(2):
        value = node.get("k")
        if value is None:
            calls.append(1)
            node.set("k", [1, 2, 3], ttl=30)
    assert calls == [1] and node.get("k") == [1, 2, 3]

"""The page cache of the public catalogue (portal/caching.py, services/cache.py).

Anonymous pages come from the cache (no SQL) until a publish or an edit commits, on every app
instance of the database; a revisit in the same session is a 304; nothing cached is ever shown
to a logged-in reader, in another language or mode, or with another session's CSRF token."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.caching import CSRF_SLOT
from portal.extensions import db
from portal.models import Department, ServiceItem, User
from services import cache, catalogue
from services.catalogue.departments import update_department
from tests.catalogue_factory import publish_item
from tests.conftest import dispose_app, login, make_app
from tests.portal.test_catalogue_queries import PAGES

TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')


def token_of(response) -> str:
    match = TOKEN.search(response.get_data(as_text=True))
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.mark.parametrize("path", PAGES)
def test_a_second_anonymous_visit_costs_no_sql(client, count_queries, path):
    first = client.get(path)
    assert first.status_code == 200
    with count_queries as statements:
        again = client.get(path)
    assert again.status_code == 200 and statements == [], statements
    assert again.headers["Cache-Control"] == "private, no-cache"
    assert "Cookie" in again.headers["Vary"] and again.headers["ETag"]
    # the same page, and the reader's own token in it (never the slot, never a cached token)
    assert CSRF_SLOT not in again.data
    assert first.get_data(as_text=True) == again.get_data(as_text=True).replace(
        token_of(again), token_of(first)
    )


def test_the_token_of_a_cached_page_belongs_to_the_reader(app, tx):
    first, second = app.test_client(), app.test_client()
    first.get("/catalogue")
    cached = second.get("/catalogue")
    assert token_of(cached) != token_of(first.get("/catalogue"))
    # the token served from the cache works for this reader's POST (长辈模式 switch) …
    switched = second.post(
        "/preferences/elder-mode", data={"csrf_token": token_of(cached), "enable": "1"}
    )
    assert switched.status_code == 302 and "elder_mode=1" in switched.headers["Set-Cookie"]
    # … and not for another's
    refused = first.post(
        "/preferences/elder-mode", data={"csrf_token": token_of(cached), "enable": "1"}
    )
    assert "Set-Cookie" not in refused.headers or "elder_mode" not in refused.headers["Set-Cookie"]


def test_a_revisit_in_the_same_session_is_a_304(client, app, query):
    first = client.get("/items/330100GA0001")
    etag = first.headers["ETag"]
    again = client.get("/items/330100GA0001", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    # another session (another CSRF secret) gets the page, with its own ETag
    other = app.test_client().get("/items/330100GA0001", headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["ETag"] != etag
    # a new generation with the same content: still the same page
    with app.app_context():
        cache.bump_generation()
    assert client.get("/items/330100GA0001", headers={"If-None-Match": etag}).status_code == 304
    # an edit that shows in the page changes its ETag: the browser's copy is not confirmed
    query(lambda: rename(app, "GA", "市公安局（新名）"))
    changed = client.get("/items/330100GA0001", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "市公安局（新名）" in changed.get_data(as_text=True)


def test_personal_pages_have_no_etag_and_are_never_stored(client):
    login(client, "13800000001")
    for path in ("/", "/catalogue", "/items/330100GA0001", "/cases", "/documents/"):
        response = client.get(path, headers={"If-None-Match": "*"})
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
        assert "ETag" not in response.headers, path


def test_a_logged_in_reader_never_gets_the_anonymous_copy_and_leaves_none(app, client):
    anonymous = app.test_client()
    assert "登录" in anonymous.get("/").get_data(as_text=True)
    login(client, "13800000001")
    with app.app_context():
        name = db.session.scalar(select(User.display_name).where(User.phone == "13800000001"))
    mine = client.get("/").get_data(as_text=True)
    assert name in mine
    for path in ("/", "/catalogue", "/items/330100GA0001"):
        assert name not in anonymous.get(path).get_data(as_text=True), path


def test_language_and_elder_mode_are_part_of_the_key(app, client):
    chinese = client.get("/catalogue").get_data(as_text=True)
    assert 'lang="zh-CN"' in chinese
    english_reader = app.test_client()
    english_reader.get("/catalogue")
    english_reader.post(
        "/preferences/language",
        data={"csrf_token": token_of(english_reader.get("/catalogue")), "locale": "en"},
    )
    english = english_reader.get("/catalogue").get_data(as_text=True)
    assert 'lang="en"' in english and "Service catalogue" in english
    assert 'lang="zh-CN"' in client.get("/catalogue").get_data(as_text=True)
    elder_reader = app.test_client()
    elder_reader.set_cookie("elder_mode", "1")
    assert 'class="elder"' in elder_reader.get("/catalogue").get_data(as_text=True)
    assert 'class="elder"' not in client.get("/catalogue").get_data(as_text=True)


def test_a_page_with_a_flashed_message_is_neither_cached_nor_served_from_the_cache(client):
    client.get("/")
    switched = client.post(
        "/preferences/elder-mode",
        data={"csrf_token": token_of(client.get("/")), "enable": "1", "next": "/"},
    )
    assert switched.status_code == 302
    shown = client.get("/").get_data(as_text=True)
    assert "已切换到长辈模式" in shown
    assert "已切换到长辈模式" not in client.get("/").get_data(as_text=True)  # shown once
    other = client.application.test_client()
    other.set_cookie("elder_mode", "1")
    assert "已切换到长辈模式" not in other.get("/").get_data(as_text=True)


def test_publishing_shows_at_once(client, query):
    client.get("/search?q=新上线的事项")
    client.get("/catalogue")

    def publish():
        publish_item("新上线的事项", popularity=99999)
        db.session.commit()

    query(publish)
    assert "新上线的事项" in client.get("/search?q=新上线的事项").get_data(as_text=True)
    assert "新上线的事项" in client.get("/catalogue").get_data(as_text=True)
    assert "新上线的事项" in client.get("/").get_data(as_text=True)


def test_a_rolled_back_change_keeps_the_generation(app_ctx):
    before = cache.generation()
    publish_item("撤回的事项")
    db.session.rollback()
    db.session.commit()
    assert cache.current().generation() == before


def rename(app, code: str, name: str) -> None:
    """Rename a department as the admin pages do (inside an app context; commits)."""
    dept = db.session.scalar(select(Department).where(Department.code == code))
    admin = db.session.scalar(select(User).where(User.username == "admin"))
    update_department(
        dept, name=name, phone=dept.phone, address=dept.address, hours=dept.hours, actor=admin
    )
    db.session.commit()


def rename_department(app, code: str, name: str) -> None:
    with app.app_context():
        rename(app, code, name)
        db.session.remove()


def test_an_edit_reaches_every_app_instance_of_the_database(database_factory, tmp_path):
    """Two app instances on one database (two gunicorn workers, no Redis): an edit committed
    through one is seen at once through the other, whose cache held the old page."""
    first = database_factory("page-cache-two", seed=True)
    second = make_app(first.config["DATABASE_URL"], tmp_path / "uploads")
    try:
        readers = [first.test_client(), second.test_client()]
        for reader in readers:
            for path in ("/", "/items/330100GA0001", "/catalogue"):
                assert "公安局" in reader.get(path).get_data(as_text=True)
        rename_department(first, "GA", "市公安局（更名）")
        for reader in reversed(readers):
            for path in ("/", "/items/330100GA0001", "/catalogue"):
                assert "市公安局（更名）" in reader.get(path).get_data(as_text=True), path
    finally:
        dispose_app(second)


def test_a_new_bundle_shows_at_once(client, query):
    """Bundles have no explicit cache call: the catalogue watcher starts the new generation."""
    assert "新的一件事" not in client.get("/").get_data(as_text=True)

    def create():
        items = db.session.scalars(
            select(ServiceItem)
            .where(ServiceItem.published_version_id.is_not(None))
            .order_by(ServiceItem.code)
            .limit(2)
        ).all()
        catalogue.create_bundle(
            code="B777", name="新的一件事", description="测试", theme=None, items=list(items)
        )
        db.session.commit()

    query(create)
    assert "新的一件事" in client.get("/").get_data(as_text=True)
    assert "新的一件事" in client.get("/search?q=新的一件事").get_data(as_text=True)

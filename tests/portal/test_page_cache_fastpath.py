"""The fast path (portal/fastpath.py): cached anonymous pages answered in front of Flask.

A hit never reaches Flask (no view, no SQL) and answers with the slow path's headers; a
logged-in reader, a flashed message, a kiosk, another language or 长辈模式, and any page after
a publish (on any app instance) are never answered from the cache; a token served here works
for the reader's own POST only."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from flask import Flask, request_started, session
from flask_wtf.csrf import validate_csrf
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select
from wtforms import ValidationError

from portal.caching import CachedPage
from portal.extensions import db
from portal.fastpath import CSRF_SALT, EXTENSION_KEY, QuickDumps
from portal.kiosk.device import DEVICE_COOKIE
from portal.models import User
from services import metrics
from tests.conftest import dispose_app, login, make_app
from tests.portal.test_catalogue_queries import PAGES
from tests.portal.test_page_cache import rename_department, token_of

GUIDE = "/items/330100GA0001"
TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')


@dataclass
class Seen:
    fast: int = 0  # answered by the fast path
    flask: list[str] = field(default_factory=list)  # paths Flask dispatched


@contextmanager
def watching(app: Flask) -> Iterator[Seen]:
    """Count the answers of ``app``'s fast path and the requests Flask itself saw."""
    fast_path = app.extensions[EXTENSION_KEY]
    seen, before = Seen(), fast_path.served

    def dispatched(sender, **extra) -> None:
        from flask import request

        seen.flask.append(request.full_path)

    with request_started.connected_to(dispatched, app):
        yield seen
        seen.fast = fast_path.served - before
    seen.fast = fast_path.served - before


def fast(app: Flask, client, path: str, **kwargs):
    """GET ``path``, asserting the fast path answered it."""
    with watching(app) as seen:
        response = client.get(path, **kwargs)
    assert (seen.fast, seen.flask) == (1, []), (path, seen)
    return response


def slow(app: Flask, client, path: str, **kwargs):
    """GET ``path``, asserting Flask answered it."""
    with watching(app) as seen:
        response = client.get(path, **kwargs)
    assert seen.fast == 0 and len(seen.flask) == 1, (path, seen)
    return response


@pytest.mark.parametrize("path", PAGES)
def test_a_hit_never_reaches_flask(app, client, count_queries, path):
    client.get(path)  # a miss: rendered and stored (or a hit left by an earlier test)
    with count_queries as statements:
        again = fast(app, client, path)  # the same reader, with the session cookie it got
        newcomer = fast(app, app.test_client(), path)  # no cookie at all
    assert statements == []
    assert again.status_code == newcomer.status_code == 200
    assert again.headers["Cache-Control"] == "private, no-cache" and again.headers["ETag"]
    assert token_of(again) != token_of(newcomer)
    assert again.get_data(as_text=True).replace(token_of(again), "T") == newcomer.get_data(
        as_text=True
    ).replace(token_of(newcomer), "T")


def cookie_attributes(value: str) -> tuple[str, dict[str, str]]:
    """The cookie's name and its attributes, without its value and expiry time."""
    first, *rest = value.split("; ")
    attributes = dict(part.partition("=")[::2] for part in rest)
    assert attributes.pop("Expires")
    return first.partition("=")[0], attributes


def comparable(response) -> dict[str, object]:
    """The headers, with what differs per request (id, cookie value, expiry) taken out."""
    headers: dict[str, object] = {}
    for name, value in response.headers.items():
        if name == "X-Request-ID":
            assert re.fullmatch(r"[0-9a-f]{32}", value)
            value = "id"
        elif name == "Set-Cookie":
            value = cookie_attributes(value)
        assert name not in headers, f"{name} twice"
        headers[name] = value
    return headers


def both_ways(app, monkeypatch, make_client, path: str, **kwargs):
    """The same request through Flask, then through the fast path."""
    monkeypatch.setitem(app.config, "PAGE_FAST_PATH", False)
    through_flask = slow(app, make_client(), path, **kwargs)
    monkeypatch.setitem(app.config, "PAGE_FAST_PATH", True)
    return through_flask, fast(app, make_client(), path, **kwargs)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Accept-Encoding": "gzip, deflate, br"}, {"Accept-Encoding": "gzip;q=0"}],
    ids=["plain", "gzip", "gzip-refused"],
)
@pytest.mark.parametrize("path", ["/", "/catalogue?page=2", GUIDE])
def test_the_fast_path_answers_with_the_slow_paths_headers(app, tx, monkeypatch, path, headers):
    app.test_client().get(path)
    # a newcomer without a cookie
    one, other = both_ways(app, monkeypatch, app.test_client, path, headers=headers)
    assert comparable(one).keys() == comparable(other).keys()
    for name in ("ETag", "Content-Length"):  # another session: another secret and token
        del one.headers[name], other.headers[name]
    assert comparable(one) == comparable(other)
    # a returning reader: the same session, so the same ETag and the same body
    reader = app.test_client()
    reader.get(path)
    one, other = both_ways(app, monkeypatch, lambda: reader, path, headers=headers)
    assert comparable(one) == comparable(other)
    assert one.data == other.data or one.headers.get("Content-Encoding") == "gzip"
    plain = [r.data for r in (one, other)]
    if one.headers.get("Content-Encoding") == "gzip":
        plain = [gzip.decompress(r.data) for r in (one, other)]
        assert other.headers["ETag"].startswith('W/"')
    assert len(plain[0]) == len(plain[1])
    assert re.sub(rb"[\w.-]{60,}", b"T", plain[0]) == re.sub(rb"[\w.-]{60,}", b"T", plain[1])
    # a revisit: 304, through both
    etag = other.headers["ETag"]
    one, other = both_ways(
        app, monkeypatch, lambda: reader, path, headers={**headers, "If-None-Match": etag}
    )
    assert one.status_code == other.status_code == 304 and other.data == b""
    assert comparable(one) == comparable(other)
    # HEAD: the headers of the GET, no body
    monkeypatch.setitem(app.config, "PAGE_FAST_PATH", False)
    with watching(app) as seen:
        one = reader.head(path, headers=headers)
    monkeypatch.setitem(app.config, "PAGE_FAST_PATH", True)
    with watching(app) as fast_seen:
        other = reader.head(path, headers=headers)
    assert (seen.fast, fast_seen.fast, fast_seen.flask) == (0, 1, [])
    assert other.data == b"" and comparable(one) == comparable(other)


def test_a_gzipped_hit_is_the_page_with_the_readers_token(app, client):
    client.get("/catalogue")
    plain = fast(app, client, "/catalogue")
    packed = fast(app, client, "/catalogue", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data) / 2
    page = gzip.decompress(packed.data).decode()
    token = TOKEN.search(page).group(1)
    assert page.count(token) >= 3  # the meta tag and the header's forms
    assert page.replace(token, token_of(plain)) == plain.get_data(as_text=True)


def test_a_revisit_is_a_304_from_the_fast_path(app, client):
    client.get(GUIDE)
    first = fast(app, client, GUIDE)
    again = fast(app, client, GUIDE, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    other = fast(app, app.test_client(), GUIDE, headers={"If-None-Match": first.headers["ETag"]})
    assert other.status_code == 200  # another session's copy holds another token


def test_the_token_served_here_is_the_readers_own(app, client):
    app.test_client().get("/catalogue")
    page = fast(app, client, "/catalogue")  # a newcomer: a new session from the fast path
    assert "session=" in page.headers["Set-Cookie"]
    other = app.test_client()
    foreign = fast(app, other, "/catalogue")
    refused = other.post(
        "/preferences/elder-mode", data={"csrf_token": token_of(page), "enable": "1"}
    )
    assert "elder_mode" not in refused.headers.get("Set-Cookie", "")
    switched = client.post(
        "/preferences/elder-mode", data={"csrf_token": token_of(page), "enable": "1"}
    )
    assert switched.status_code == 302 and "elder_mode=1" in switched.headers["Set-Cookie"]
    assert token_of(foreign) != token_of(page)
    no_token = client.post("/preferences/elder-mode", data={"enable": "0"})
    assert "elder_mode=0" not in no_token.headers.get("Set-Cookie", "")


def test_a_logged_in_reader_is_never_answered_here(app, client):
    for path in ("/", "/catalogue", GUIDE):
        app.test_client().get(path)
    login(client, "13800000001")
    with app.app_context():
        name = db.session.scalar(select(User.display_name).where(User.phone == "13800000001"))
    for path in ("/", "/catalogue", GUIDE):
        page = slow(app, client, path)
        assert name in page.get_data(as_text=True) and page.headers["Cache-Control"] == "no-store"
    # logged out again: the anonymous copy is served, without the name
    client.post("/auth/logout", data={"csrf_token": token_of(client.get("/profile"))})
    client.get("/")  # the logout's farewell message is shown once, by Flask
    assert name not in fast(app, client, "/").get_data(as_text=True)


def test_a_flashed_message_goes_to_flask(app, client):
    client.get("/")
    warm = app.test_client()  # the page the switch leads to is in the cache
    warm.set_cookie("elder_mode", "1")
    warm.get("/")
    switched = client.post(
        "/preferences/elder-mode",
        data={"csrf_token": token_of(fast(app, client, "/")), "enable": "1", "next": "/"},
    )
    assert switched.status_code == 302
    assert "已切换到长辈模式" in slow(app, client, "/").get_data(as_text=True)
    assert "已切换到长辈模式" not in client.get("/").get_data(as_text=True)  # shown once
    assert "已切换到长辈模式" not in fast(app, client, "/").get_data(as_text=True)


def test_languages_and_elder_mode_are_kept_apart(app, client):
    client.get("/catalogue")
    assert 'lang="zh-CN"' in fast(app, client, "/catalogue").get_data(as_text=True)
    english = app.test_client()
    english.post(
        "/preferences/language",
        data={"csrf_token": token_of(fast(app, english, "/catalogue")), "locale": "en"},
    )
    english.get("/catalogue")
    page = fast(app, english, "/catalogue").get_data(as_text=True)
    assert 'lang="en"' in page and "Service catalogue" in page
    assert 'lang="zh-CN"' in fast(app, client, "/catalogue").get_data(as_text=True)
    elder = app.test_client()
    elder.set_cookie("elder_mode", "1")
    elder.get("/catalogue")
    assert 'class="elder"' in fast(app, elder, "/catalogue").get_data(as_text=True)
    assert 'class="elder"' not in fast(app, client, "/catalogue").get_data(as_text=True)
    english.set_cookie("elder_mode", "1")
    english.get("/catalogue")
    page = fast(app, english, "/catalogue").get_data(as_text=True)
    assert 'lang="en"' in page and 'class="elder"' in page


def test_a_kiosk_and_a_broken_session_cookie(app, client):
    client.get("/")
    kiosk = app.test_client()
    kiosk.set_cookie(DEVICE_COOKIE, "anything")
    slow(app, kiosk, "/")
    forged = app.test_client()
    forged.set_cookie("session", "eyJfdXNlcl9pZCI6IjEifQ.forged.signature")
    page = fast(app, forged, "/")  # as Flask would: a new anonymous session
    assert "session=" in page.headers["Set-Cookie"] and "登录" in page.get_data(as_text=True)


@pytest.mark.parametrize("shared", ["generation file", "redis"])
def test_a_publish_reaches_the_fast_path_of_every_app_instance(
    database_factory, request, tmp_path, shared
):
    """Two app instances on one database (two workers, or two nodes sharing Redis): a rename
    committed through one is served at once by both, though both held the old page."""
    extra = {}
    if shared == "redis":
        extra = {"REDIS_URL": request.getfixturevalue("clean_redis")}
    first = database_factory("fast-path-two", seed=True, **extra)
    other_extra = {"CACHE_GENERATION_FILE": str(tmp_path / "own")} if extra else {}
    second = make_app(first.config["DATABASE_URL"], tmp_path / "uploads", **extra, **other_extra)
    try:
        readers = [(first, first.test_client()), (second, second.test_client())]
        for app, reader in readers:
            for path in ("/", GUIDE, "/catalogue"):
                reader.get(path)
                assert "公安局（更名）" not in fast(app, reader, path).get_data(as_text=True)
        rename_department(first, "GA", "市公安局（更名）")
        for app, reader in reversed(readers):
            for path in ("/", GUIDE, "/catalogue"):
                assert "市公安局（更名）" in reader.get(path).get_data(as_text=True), path
                assert "市公安局（更名）" in fast(app, reader, path).get_data(as_text=True), path
    finally:
        dispose_app(second)


def test_the_fast_path_can_be_turned_off(app, client, monkeypatch):
    client.get("/")
    monkeypatch.setitem(app.config, "PAGE_FAST_PATH", False)
    assert slow(app, client, "/").status_code == 200


@pytest.mark.parametrize(
    "value",
    [
        "9f" * 20,
        {"_permanent": True, "csrf_token": "9f" * 20, "locale": "en"},
        {"_permanent": True, "when": (1, 2)},  # not plain: through the serializer itself
    ],
)
def test_what_the_fast_path_signs_is_read_by_the_apps_own_serializers(app, value):
    with app.test_request_context():
        serializer = app.session_interface.get_signing_serializer(app)
        signed = QuickDumps(serializer)(value)
        assert serializer.loads(signed) == value == serializer.loads(serializer.dumps(value))
        if isinstance(value, str):
            csrf = URLSafeTimedSerializer(app.secret_key, salt=CSRF_SALT)
            token = QuickDumps(csrf)(value)
            session["csrf_token"] = value
            validate_csrf(token)  # Flask-WTF's own check
            with pytest.raises(ValidationError):
                validate_csrf(QuickDumps(csrf)("0" * 40))


def test_a_gzipped_page_holds_any_token():
    filler = "".join(f"<li>事项 {i * 7919 % 1000} 办事指南</li>" for i in range(100)).encode()
    body = b"<html>{t}" + filler + b"{t}" + filler + b"{t}" + filler + b"</html>"
    page = CachedPage.of(body.replace(b"{t}", b"a" * 90), "a" * 90, "text/html", "main.index")
    assert page.has_slot and page.slot_length == 90
    for token in (b"Z" * 90, b"Q" * 88, b""):  # the stored length, and others
        assert gzip.decompress(page.gzipped(token)) == body.replace(b"{t}", token)
    # what follows a slot is compressed with what came before it: smaller than the parts
    # compressed each on its own
    alone = 3 * 90 + 3 * len(gzip.compress(filler))
    assert len(page.gzipped(b"Z" * 90)) < alone - len(gzip.compress(filler))


def test_in_production_too_the_headers_are_the_slow_paths(database_factory, monkeypatch):
    """HSTS and the Secure session cookie come with a fast answer as with Flask's."""
    app = database_factory(
        "fast-path-production",
        seed=True,
        PORTAL_ENV="production",
        SECRET_KEY="p" * 64,
        PUBLIC_BASE_URL="https://zwfw.example.gov.cn",
    )
    https = {"base_url": "https://zwfw.example.gov.cn"}
    app.test_client().get("/", **https)
    one, other = both_ways(app, monkeypatch, app.test_client, "/", **https)
    assert other.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Secure" in cookie_attributes(other.headers["Set-Cookie"])[1]
    for name in ("ETag", "Content-Length"):
        del one.headers[name], other.headers[name]
    assert comparable(one) == comparable(other)


def sample(metric, suffix: str, **labels) -> float:
    for family in metric.collect():
        for s in family.samples:
            if s.name.endswith(suffix) and s.labels == labels:
                return s.value
    return 0.0


def test_a_fast_answer_is_counted_in_the_request_metrics(app, client):
    client.get("/catalogue")
    before = sample(metrics.REQUEST_SECONDS, "_count", endpoint="catalogue.index", method="GET")
    answered = sample(metrics.RESPONSES, "_total", status="2xx")
    fast(app, client, "/catalogue")
    after = sample(metrics.REQUEST_SECONDS, "_count", endpoint="catalogue.index", method="GET")
    assert after == before + 1
    assert sample(metrics.RESPONSES, "_total", status="2xx") == answered + 1


def test_a_rate_limit_on_every_route_turns_the_fast_path_off(database_factory):
    """Flask-Limiter counts in Flask: with a default limit every request must go there."""
    app = database_factory("fast-path-limited", seed=True, RATELIMIT_DEFAULT="1000 per minute")
    reader = app.test_client()
    reader.get("/")
    page = slow(app, reader, "/")
    assert page.status_code == 200 and "X-RateLimit-Limit" in page.headers


def test_a_logged_in_readers_cookie_is_verified_once(app, client):
    """The fast path verifies the cookie to learn that Flask must answer; Flask then takes the
    verified session from it instead of verifying the signature again."""
    assert login(client, "13800000001").status_code == 302
    with app.test_request_context():
        serializer = app.session_interface.get_signing_serializer(app)
    verified = []
    original = serializer.loads

    def counting(*args, **kwargs):
        verified.append(1)
        return original(*args, **kwargs)

    serializer.loads = counting
    try:
        response = client.get("/cases")
    finally:
        del serializer.loads
    assert response.status_code == 200
    assert "13800000001" not in response.get_data(as_text=True)  # masked, as ever
    assert len(verified) == 1


def test_a_session_handed_over_is_taken_only_for_the_cookie_it_came_with(app, client):
    """What the fast path hands to Flask is the data of the very cookie the request holds; a
    hand-over that does not match the cookie is ignored (here: none is sent)."""
    from portal import VERIFIED_SESSION

    with app.app_context():
        citizen = db.session.scalar(select(User).where(User.phone == "13800000001"))
        user_id = f"{citizen.id}:{citizen.session_epoch}"
    forged = ("another cookie", {"_user_id": user_id, "_fresh": True, "_permanent": True})
    response = client.get("/cases", environ_base={VERIFIED_SESSION: forged})
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]

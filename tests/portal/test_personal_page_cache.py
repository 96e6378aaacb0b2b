"""Kept personal pages (portal/personal_pages.py): answered in front of Flask for the session
they were rendered for, never after a write to what they show, whoever makes it.

我的办件, a case page, 我的材料, the reviewer queue and the counter workstation: a second visit
of the same session is answered by the fast path with Flask's headers and body; a write by
plain SQL (no ORM event, as a job or an operator would make it) to any of the rows a page
shows is on the next visit; a page is never shared by two sessions; a changed session epoch,
a flashed message, another browser (Flask-Login's session protection) and the counter serving
a citizen always go to Flask; every table a page reads is one whose writes the database
counts for the page's scopes."""

from __future__ import annotations

import gzip
import re

import pytest
from sqlalchemy import event, select, text

from portal.extensions import db
from portal.models import Application, User
from portal.personal_pages import pages_of
from services.cache import CATALOGUE_MODELS
from services.page_scopes import CITIZEN, CITY, DEPARTMENT, USER, WATCHED
from tests.conftest import login
from tests.portal.test_page_cache_fastpath import comparable, fast, slow

CITIZEN_PHONE = "13800000001"
TOKENS = re.compile(rb'(name="csrf_token" value="|name="csrf-token" content=")[^"]+')


def case_of(app, phone: str = CITIZEN_PHONE) -> int:
    with app.app_context():
        citizen = db.session.scalar(select(User.citizen_id).where(User.phone == phone))
        return db.session.scalar(
            select(Application.id)
            .where(Application.applicant_id == citizen, Application.status != "draft")
            .order_by(Application.id)
            .limit(1)
        )


def pages(app) -> list[tuple[str, str]]:
    return [
        (CITIZEN_PHONE, "/cases"),
        (CITIZEN_PHONE, f"/cases/{case_of(app)}"),
        (CITIZEN_PHONE, "/documents/"),
        ("reviewer01", "/review/"),
        ("reviewer01", "/review/?sort=new"),
        ("counter01", "/counter/"),
    ]


PAGE_IDS = ["cases", "case", "documents", "queue", "queue-new", "counter"]


def kept(app, client, who: str, path: str):
    """Log in as ``who`` and visit ``path`` until Flask has kept it (the first visit after the
    login shows its flashed message, and is not kept)."""
    assert login(client, who).status_code == 302
    client.get(path)
    response = client.get(path)
    assert response.status_code == 200
    return response


def plain(response) -> bytes:
    body = response.data
    if response.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return TOKENS.sub(rb"\1T", body)


def write(app, sql: str, **params) -> None:
    with app.app_context():
        db.session.execute(text(sql), params)
        db.session.commit()


@pytest.mark.parametrize("index", range(6), ids=PAGE_IDS)
@pytest.mark.parametrize(
    "headers", [{}, {"Accept-Encoding": "gzip, deflate"}], ids=["plain", "gzip"]
)
def test_a_second_visit_is_answered_in_front_of_flask_as_flask_answers_it(
    app, client, monkeypatch, index, headers
):
    who, path = pages(app)[index]
    rendered = kept(app, client, who, path)
    again = fast(app, client, path, headers=headers)
    monkeypatch.setitem(app.config, "PERSONAL_PAGE_CACHE", False)
    through_flask = slow(app, client, path, headers=headers)
    if headers:  # compressed apart: the kept page's parts were deflated once, with a slot
        del again.headers["Content-Length"], through_flask.headers["Content-Length"]
    assert comparable(again) == comparable(through_flask)
    assert again.headers["Cache-Control"] == "no-store"
    assert plain(again) == plain(through_flask) == plain(rendered)
    # the token in it is the reader's own: the header's 长辈模式 switch takes it
    body = again.data
    if again.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    token = re.search(rb'name="csrf-token" content="([^"]+)"', body)
    switched = client.post("/preferences/elder-mode", data={"csrf_token": token[1].decode()})
    assert switched.status_code == 302


def test_a_case_changed_by_plain_sql_is_on_the_next_visit(app, client):
    case = case_of(app)
    page = kept(app, client, CITIZEN_PHONE, f"/cases/{case}").get_data(as_text=True)
    assert "FN-SQL-0001" not in page
    fast(app, client, f"/cases/{case}")
    write(app, "UPDATE applications SET number = 'FN-SQL-0001' WHERE id = :id", id=case)
    assert "FN-SQL-0001" in slow(app, client, f"/cases/{case}").get_data(as_text=True)
    assert "FN-SQL-0001" in fast(app, client, f"/cases/{case}").get_data(as_text=True)
    assert "FN-SQL-0001" in slow(app, client, "/cases").get_data(as_text=True)


def test_a_document_renamed_by_plain_sql_is_on_the_next_visit(app, client):
    kept(app, client, CITIZEN_PHONE, "/documents/")
    fast(app, client, "/documents/")
    with app.app_context():
        citizen = db.session.scalar(select(User.citizen_id).where(User.phone == CITIZEN_PHONE))
    write(
        app,
        "UPDATE documents SET title = '改名后的材料', original_filename = '改名后的材料.pdf'"
        " WHERE id ="
        " (SELECT min(id) FROM documents WHERE owner_id = :citizen)",
        citizen=citizen,
    )
    assert "改名后的材料" in slow(app, client, "/documents/").get_data(as_text=True)


def test_a_reminder_and_a_calendar_day_reach_the_kept_queue(app, client):
    kept(app, client, "reviewer01", "/review/")
    fast(app, client, "/review/")
    with app.app_context():
        department = db.session.scalar(
            select(User.department_id).where(User.username == "reviewer01")
        )
    write(
        app,
        "INSERT INTO staff_reminders (department_id, kind, body, created_at)"
        " VALUES (:department, 'overdue', '请处理：由作业写入的提醒', CURRENT_TIMESTAMP)",
        department=department,
    )
    assert "由作业写入的提醒" in slow(app, client, "/review/").get_data(as_text=True)
    fast(app, client, "/review/")
    # the working-day calendar moves every due date the queue shows
    write(
        app,
        "INSERT INTO calendar_days (day, is_workday, note) VALUES ('2031-01-02', :no, 'x')",
        no=False,
    )
    slow(app, client, "/review/")


def test_another_departments_case_leaves_the_kept_queue_alone(app, client):
    kept(app, client, "reviewer01", "/review/")
    with app.app_context():
        mine = db.session.scalar(select(User.department_id).where(User.username == "reviewer01"))
        other = db.session.scalar(
            select(Application.id).where(Application.department_id != mine).limit(1)
        )
    write(app, "UPDATE applications SET number = 'ELSEWHERE-1' WHERE id = :id", id=other)
    fast(app, client, "/review/")


def test_a_page_is_never_shared_by_two_sessions(app, client):
    path = f"/cases/{case_of(app)}"
    other = app.test_client()  # the same citizen on another device: another session
    assert login(other, CITIZEN_PHONE).status_code == 302
    other.get(path)  # the login's message
    kept(app, client, CITIZEN_PHONE, path)  # (a login changes the account's row: after both)
    fast(app, client, path)
    slow(app, other, path)
    # and someone else never sees it, kept or not
    stranger = app.test_client()
    assert login(stranger, "13800000002").status_code == 302
    stranger.get("/cases")
    assert slow(app, stranger, path).status_code in (403, 404)


def test_a_session_ended_elsewhere_is_not_answered_from_the_kept_page(app, client):
    path = "/cases"
    kept(app, client, CITIZEN_PHONE, path)
    fast(app, client, path)
    # 退出所有设备 (or a new password): the account's session epoch moves on
    write(
        app,
        "UPDATE users SET session_epoch = session_epoch + 1 WHERE phone = :phone",
        phone=CITIZEN_PHONE,
    )
    response = slow(app, client, path)
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize(
    ("label", "change"),
    [
        ("epoch", "UPDATE users SET session_epoch = session_epoch + 1 WHERE phone = :phone"),
        ("deactivated", "UPDATE users SET active = FALSE WHERE phone = :phone"),
    ],
)
def test_the_fast_path_itself_refuses_a_session_its_account_no_longer_admits(
    database_factory, label, change
):
    """The generations miss a write to the account (a restore, a trigger left out on one
    database: here the users table's update trigger is dropped), so the kept page still
    matches them. The fast path reads the account's epoch and active flag with them and sends
    the session to Flask, which ends it: 退出所有设备 and a deactivation are never outlived."""
    app = database_factory(f"personal-pages-admits-{label}", seed=True)
    client = app.test_client()
    kept(app, client, CITIZEN_PHONE, "/cases")
    fast(app, client, "/cases")
    with app.app_context():
        on_users = " ON users" if db.engine.dialect.name == "postgresql" else ""
        db.session.execute(text(f"DROP TRIGGER page_generations_users_update{on_users}"))
        db.session.commit()
    write(app, change, phone=CITIZEN_PHONE)
    response = slow(app, client, "/cases")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_a_flashed_message_another_browser_and_the_switch_go_to_flask(app, client, monkeypatch):
    path = "/cases"
    kept(app, client, CITIZEN_PHONE, path)
    fast(app, client, path)
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "一条只显示一次的消息")]
    assert "一条只显示一次的消息" in slow(app, client, path).get_data(as_text=True)
    fast(app, client, path)  # the same page as before the message, kept under the same key
    # another browser with this cookie: Flask-Login's session protection has its say
    slow(app, client, path, headers={"User-Agent": "another browser"})
    monkeypatch.setitem(app.config, "PERSONAL_PAGE_CACHE", False)
    client.get(path)
    slow(app, client, path)


def test_the_counter_serving_a_citizen_is_never_kept(app, client):
    kept(app, client, "counter01", "/counter/")
    fast(app, client, "/counter/")
    page = client.get("/counter/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    found = client.post(
        "/counter/lookup", data={"lookup-query": CITIZEN_PHONE, "csrf_token": token}
    )
    assert found.status_code in (200, 302)
    with app.app_context():
        served = db.session.execute(
            text("SELECT count(*) FROM counter_contexts WHERE ended_at IS NULL")
        ).scalar()
    assert served  # somebody is being served
    for _ in range(3):
        slow(app, client, "/counter/")


# the catalogue: a publish starts a new generation of services/cache.py, part of every key
CATALOGUE_TABLES = {model.__tablename__ for model in CATALOGUE_MODELS} | {"bundle_items"}
# tables a page reads whose rows only ever change with a watched table's
DERIVED = {"queue_counts": "applications (kept by migration 0021's triggers)"}
KINDS = {
    CITIZEN_PHONE: {CITIZEN, USER, CITY},
    "reviewer01": {DEPARTMENT, USER, CITY},
    "counter01": {USER, CITY},
}


@pytest.mark.parametrize("index", range(6), ids=PAGE_IDS)
def test_every_table_a_kept_page_reads_is_watched_for_its_scopes(app, client, monkeypatch, index):
    """A page reading a table the triggers do not watch would be served stale after a write to
    it: add the table to migration 0025's triggers and services/page_scopes.py first."""
    who, path = pages(app)[index]
    monkeypatch.setitem(app.config, "PERSONAL_PAGE_CACHE", False)
    kept(app, client, who, path)
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    read = set()
    for statement in statements:
        read |= set(re.findall(r'\b(?:FROM|JOIN)\s+"?([a-z_]+)"?', statement, re.I))
    assert read, "the page read nothing: the recorder missed it"
    unwatched = {
        table
        for table in read - CATALOGUE_TABLES - DERIVED.keys() - {"page_generations"}
        if not WATCHED.get(table, frozenset()) & KINDS[who]
    }
    assert not unwatched, f"{path} reads {sorted(unwatched)}, which no trigger counts for it"


def test_a_kept_page_costs_one_statement_and_a_miss_one_more(
    app, client, count_queries, monkeypatch
):
    path = "/documents/"
    kept(app, client, CITIZEN_PHONE, path)
    with count_queries as hit:
        fast(app, client, path)
    assert len(hit) == 1 and "page_generations" in hit[0]
    monkeypatch.setitem(app.config, "PERSONAL_PAGE_CACHE", False)
    with count_queries as rendered:
        slow(app, client, path)
    monkeypatch.setitem(app.config, "PERSONAL_PAGE_CACHE", True)
    write(app, "UPDATE users SET locale = locale WHERE phone = :phone", phone=CITIZEN_PHONE)
    with count_queries as missed:
        slow(app, client, path)
    assert len(missed) == len(rendered) + 1


def test_on_its_own_connection_the_fast_path_sees_every_commit(database_factory):
    """Outside the tests' shared transaction the fast path reads the generations on a driver
    connection of its own, in autocommit: a commit made elsewhere is seen by the next request,
    and a connection that breaks sends that request to Flask and is replaced."""
    app = database_factory("personal-pages-driver", seed=True)
    client = app.test_client()
    case = case_of(app)
    path = f"/cases/{case}"
    kept(app, client, CITIZEN_PHONE, path)
    fast(app, client, path)
    write(app, "UPDATE applications SET number = 'DRV-0001' WHERE id = :id", id=case)
    assert "DRV-0001" in slow(app, client, path).get_data(as_text=True)
    assert "DRV-0001" in fast(app, client, path).get_data(as_text=True)
    pages = pages_of(app)
    pages._local.driver.close()  # the server closed it, say
    assert slow(app, client, path).status_code == 200
    fast(app, client, path)


def test_no_kept_page_is_rate_limited(app):
    """The fast path answers kept pages without Flask-Limiter: none of them may be limited."""
    from portal.limits import LIMITED

    limited = {endpoint for endpoint, (_name, methods) in LIMITED.items() if "GET" in methods}
    assert pages_of(app).endpoints and not pages_of(app).endpoints & limited


def test_writers_of_one_department_never_wait_for_each_other(database_factory, backend):
    """On PostgreSQL a write appends its scopes' rows instead of updating a shared counter:
    two transactions changing two cases of one department (or of one citizen) do not wait for
    each other's commit, and so can never deadlock over the generations."""
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    app = database_factory("page-generations-concurrent", seed=True)
    with app.app_context():
        one, two = db.session.execute(
            text(
                "SELECT a.id, b.id FROM applications AS a JOIN applications AS b"
                " ON b.department_id = a.department_id AND b.applicant_id <> a.applicant_id"
                " AND b.id <> a.id ORDER BY a.id LIMIT 1"
            )
        ).one()
        engine = db.engine
    first, second = engine.connect(), engine.connect()
    try:
        first.execute(text("UPDATE applications SET number = 'W-1' WHERE id = :id"), {"id": one})
        # waiting for the first writer's commit would end in this timeout's error
        second.execute(text("SET lock_timeout = '2s'"))
        second.execute(text("UPDATE applications SET number = 'W-2' WHERE id = :id"), {"id": two})
    finally:
        first.rollback()
        second.rollback()
        first.close()
        second.close()


def test_folding_the_appended_rows_keeps_every_kept_page(database_factory):
    """`flask jobs run` folds a scope's rows into one: the generations, and so the kept pages'
    keys, are what they were."""
    from services.page_scopes import compact_page_generations

    app = database_factory("page-generations-fold", seed=True)
    client = app.test_client()
    path = f"/cases/{case_of(app)}"
    with app.app_context():
        citizen = db.session.scalar(select(User.citizen_id).where(User.phone == CITIZEN_PHONE))
    for n in range(3):  # three statements: three rows of the citizen's scope on PostgreSQL
        write(app, f"UPDATE citizens SET address = 'x{n}' WHERE id = :id", id=citizen)
    kept(app, client, CITIZEN_PHONE, path)
    fast(app, client, path)
    scope = f"c:{citizen}"
    count = text("SELECT count(*), sum(generation) FROM page_generations WHERE scope = :s")
    with app.app_context():
        rows, total = db.session.execute(count, {"s": scope}).one()
        compact_page_generations()
        db.session.commit()
        after = db.session.execute(count, {"s": scope}).one()
    assert after == (1, total) and (rows > 1 or app.config["DATABASE_URL"].startswith("sqlite"))
    fast(app, client, path)

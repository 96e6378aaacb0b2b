"""The reviewer queue a page at a time: keyset pages that neither skip nor repeat a case, the
filters and the sort kept in the links, counts per state, deadline filters that agree with the
badges, and as many SQL statements with 300 open cases as with 30."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from html import unescape

import pytest
from sqlalchemy import event, insert, select, text, update

from portal.extensions import db
from portal.models import (
    Application,
    Channel,
    Citizen,
    Department,
    ItemVersion,
    ServiceItem,
    StaffReminder,
    User,
)
from portal.models.applications import QUEUE_OPEN_STATES
from portal.models.base import utcnow
from services import case_states, clock, review
from tests.conftest import login
from tests.workflow_cases import user

STATES = ("submitted", "accepted", "in_review", "suspended", "approved", "awaiting_pickup")


def police_item() -> ItemVersion:
    """A published item version of reviewer01's department."""
    reviewer = user("reviewer01")
    return db.session.scalar(
        select(ItemVersion)
        .join(ServiceItem, ServiceItem.published_version_id == ItemVersion.id)
        .where(ServiceItem.department_id == reviewer.department_id)
        .order_by(ItemVersion.id)
        .limit(1)
    )


def add_cases(total: int, *, tag: str, due_days=None, statuses=STATES, version=None) -> list[int]:
    """``total`` open cases in reviewer01's department, written as rows (no workflow): states
    in turn from ``statuses``, 承诺办结日 from ``due_days(i)`` (days from today, None for none)."""
    version = version or police_item()
    # one applicant per case, so that a query per row's applicant would show in the counts
    db.session.execute(
        insert(Citizen),
        [
            {
                "name": f"申请人{i}",
                "id_number": f"RQ{tag}{i:06d}"[-18:].rjust(18, "0"),
                "birth_date": date(1980, 1, 1),
            }
            for i in range(total)
        ],
    )
    applicants = list(
        db.session.scalars(
            select(Citizen.id).where(Citizen.name.like("申请人%")).order_by(Citizen.id.desc())
        )
    )[:total]
    today = clock.local_today()
    rows = []
    for i in range(total):
        status = statuses[i % len(statuses)]
        days = due_days(i) if due_days else (None if status == "submitted" else i % 9 - 3)
        rows.append(
            {
                "number": f"RQ{tag}{i:06d}",
                "item_version_id": version.id,
                "department_id": version.department_id,
                "applicant_id": applicants[i],
                "channel": Channel.online,
                "status": status,
                "submitted_at": utcnow() - timedelta(days=i % 4),
                "due_date": None if days is None else today + timedelta(days=days),
                "form_data": {},
                "condition_answers": {},
            }
        )
    db.session.execute(insert(Application), rows)
    db.session.commit()
    return list(
        db.session.scalars(
            select(Application.id)
            .where(Application.number.like(f"RQ{tag}%"))
            .order_by(Application.id)
        )
    )


def department_open_ids() -> set[int]:
    reviewer = user("reviewer01")
    return set(
        db.session.scalars(
            select(Application.id).where(
                Application.department_id == reviewer.department_id,
                Application.status.in_(case_states.STAFF_OPEN_STATES),
            )
        )
    )


def walk(sort: str, page_size: int, **filters) -> tuple[list[int], list[int]]:
    """Every page forward by ?after=, then every page back by ?before= from the last."""
    reviewer = user("reviewer01")
    forward, pages = [], []
    page = review.queue(reviewer, sort=sort, page_size=page_size, **filters)
    while True:
        pages.append(page)
        forward += [r.app.id for r in page.rows]
        if page.next_cursor is None:
            break
        page = review.queue(
            reviewer, sort=sort, page_size=page_size, after=page.next_cursor, **filters
        )
    backward = [r.app.id for r in reversed(page.rows)]
    while page.prev_cursor is not None:
        page = review.queue(
            reviewer, sort=sort, page_size=page_size, before=page.prev_cursor, **filters
        )
        backward += [r.app.id for r in reversed(page.rows)]
    assert pages[0].prev_cursor is None
    return forward, backward


@pytest.mark.parametrize("sort", ["due", "new"])
def test_keyset_pages_neither_skip_nor_repeat_cases_sharing_the_sort_key(app_ctx, sort):
    # eleven cases on one 承诺办结日 and seven with none: page boundaries fall inside both runs
    add_cases(11, tag="SAME", due_days=lambda i: 5, statuses=("in_review",))
    add_cases(7, tag="NONE", due_days=lambda i: None, statuses=("submitted",))
    add_cases(9, tag="MIX", due_days=lambda i: i % 3)
    every = department_open_ids()
    forward, backward = walk(sort, 4)
    assert len(forward) == len(set(forward)) and set(forward) == every
    assert backward == list(reversed(forward))
    apps = {
        a.id: a for a in db.session.scalars(select(Application).where(Application.id.in_(forward)))
    }
    if sort == "new":
        assert forward == sorted(forward, reverse=True)
    else:  # no 承诺办结日 first (oldest first), then by date, then by id
        keys = [
            (apps[i].due_date is not None, apps[i].due_date or clock.local_today(), i)
            for i in forward
        ]
        assert keys == sorted(keys)


def test_a_filtered_walk_keeps_to_its_state(app_ctx):
    add_cases(13, tag="ST", due_days=lambda i: 2, statuses=("in_review", "accepted"))
    forward, backward = walk("due", 3, status="in_review")
    expected = {
        a.id
        for a in db.session.scalars(select(Application).where(Application.status == "in_review"))
        if a.id in department_open_ids()
    }
    assert set(forward) == expected and len(forward) == len(expected)
    assert backward == list(reversed(forward))


def test_the_deadline_filters_match_the_badges_the_rows_show(app_ctx):
    add_cases(40, tag="DUE", due_days=lambda i: (i % 13) - 6)
    reviewer = user("reviewer01")
    everything = {r.app.id: r for r in review.queue(reviewer, page_size=1000).rows}
    wanted = {
        "overdue": lambda r: r.badge.kind == "overdue",
        "today": lambda r: r.badge.kind == "today",
        "soon": lambda r: r.badge.kind in ("today", "soon"),
        "none": lambda r: r.deadline is None and r.badge.kind != "paused",
    }
    for due, rule in wanted.items():
        shown = {r.app.id for r in review.queue(reviewer, due=due, page_size=1000).rows}
        assert shown == {i for i, r in everything.items() if rule(r)}, due
        assert shown, due  # each filter has cases to show in this set


def test_the_counts_per_state_and_the_links_keep_filters_and_sort(client, query):
    version_id = query(lambda: police_item().item_id)
    query(lambda: add_cases(180, tag="LNK", statuses=("in_review", "accepted", "submitted")))
    expected = query(
        lambda: {
            s: n
            for s, n in db.session.execute(
                text(
                    "SELECT status, count(*) FROM applications WHERE department_id = :d "
                    "GROUP BY status"
                ),
                {"d": user("reviewer01").department_id},
            )
            if s in case_states.STAFF_OPEN_STATES
        }
    )
    login(client, "reviewer01")
    response = client.get(f"/review/?sort=new&item={version_id}&status=accepted")
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    html = unescape(response.get_data(as_text=True))
    assert f"全部待办（{sum(expected.values())}）" in html
    assert f"已受理（{expected['accepted']}）" in html and expected["accepted"] > review.PAGE_SIZE
    following = re.search(r'<a class="btn" rel="next" href="([^"]+)"', html)
    assert following, "a second page"
    link = following.group(1)
    for part in ("sort=new", f"item={version_id}", "status=accepted", "after="):
        assert part in link, link
    assert "offset" not in link and "page=" not in link
    second = unescape(client.get(link).get_data(as_text=True))
    first_numbers = set(re.findall(r"RQLNK\d+", html))
    second_numbers = set(re.findall(r"RQLNK\d+", second))
    assert len(first_numbers) == review.PAGE_SIZE and second_numbers
    assert not first_numbers & second_numbers
    back = re.search(r'<a class="btn" rel="prev" href="([^"]+)"', second).group(1)
    assert "before=" in back and "sort=new" in back
    assert set(re.findall(r"RQLNK\d+", unescape(client.get(back).get_data(as_text=True)))) == (
        first_numbers
    )


@pytest.mark.parametrize(
    "query_string",
    [
        "after=%00",
        "after=2026-13-40.5",
        "before=abc",
        "after=.99999999999",
        "sort=DROP&due=soonish&status=nope",
        "after=" + "9" * 30,
    ],
)
def test_a_bad_page_boundary_or_filter_is_the_first_page(client, query_string):
    login(client, "reviewer01")
    response = client.get(f"/review/?{query_string}")
    assert response.status_code == 200


def sql_count(client, count_queries, path: str) -> int:
    client.get(path)
    with count_queries as statements:
        assert client.get(path).status_code == 200
    return len(statements)


PATHS = (
    "/review/",
    "/review/?sort=new",
    "/review/?status=in_review",
    "/review/?due=overdue",
    "/review/?due=soon&sort=new",
    "/review/?step=x",
)


def test_the_queue_issues_as_many_statements_with_300_cases_as_with_30(
    app, client, query, count_queries, monkeypatch
):
    # what the view costs: kept pages (portal/personal_pages.py) are counted in their own tests
    monkeypatch.setitem(app.config, "PERSONAL_PAGE_CACHE", False)
    query(lambda: add_cases(30, tag="S30"))
    login(client, "reviewer01")
    small = {p: sql_count(client, count_queries, p) for p in PATHS}
    query(lambda: add_cases(270, tag="S300"))
    large = {p: sql_count(client, count_queries, p) for p in PATHS}
    assert large == small
    # and the page after the first costs the same
    html = client.get("/review/").get_data(as_text=True)
    following = unescape(re.search(r'rel="next" href="([^"]+)"', html).group(1))
    assert sql_count(client, count_queries, following) == small["/review/"]


@contextmanager
def queue_statements(app) -> Iterator[list[tuple[str, object]]]:
    """The queue's page statements run in the block: (SQL, parameters), as the driver got them."""
    statements: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith("SELECT applications.id"):
            statements.append((statement, parameters))

    engine = db._app_engines[app][None]
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_the_partial_indexes_cover_the_open_states(app, app_ctx, backend):
    assert QUEUE_OPEN_STATES == case_states.STAFF_OPEN_STATES
    if backend != "sqlite":
        pytest.skip("the plan is SQLite's (PostgreSQL chooses by statistics)")
    reviewer = db.session.scalar(select(User).where(User.username == "reviewer01"))
    with queue_statements(app) as statements:
        review.queue(reviewer)
        review.queue(reviewer, sort="new")
        review.queue(reviewer, status="in_review")
    plans = [
        " ".join(
            row[-1]
            for row in db.session.connection().exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement, parameters
            )
        )
        for statement, parameters in statements
    ]
    assert "ix_applications_queue_due" in plans[0] and "TEMP B-TREE" not in plans[0], plans[0]
    assert "ix_applications_queue_new" in plans[1] and "TEMP B-TREE" not in plans[1], plans[1]
    # one state, due first: an index of the department's cases in that state, in page order
    assert "(department_id=? AND status=?)" in plans[2], plans[2]
    assert "TEMP B-TREE" not in plans[2], plans[2]


def test_the_filter_choices_follow_a_change_to_the_catalogue(client, query):
    """The item and step choices are cached under the publish generation: a renamed item shows
    on the next request (a catalogue commit starts a new generation)."""
    login(client, "reviewer01")
    version_id = query(lambda: police_item().id)
    assert "改名后的事项" not in client.get("/review/").get_data(as_text=True)

    def rename():
        version = db.session.get(ItemVersion, version_id)
        version.name = "改名后的事项"
        db.session.commit()

    query(rename)
    assert "改名后的事项" in client.get("/review/").get_data(as_text=True)


def test_a_case_is_claimed_from_the_queue_as_a_browser_posts_the_button(client, query):
    """Every 认领 button names the page's one form (form="claim", the CSRF token) and posts its
    case's version to its own action: the case is then the reviewer's."""
    ids = query(lambda: add_cases(3, tag="CLM", statuses=("in_review",)))
    login(client, "reviewer01")
    html = client.get("/review/?status=in_review&sort=new").get_data(as_text=True)
    form = re.search(r'<form id="claim" method="post"[^>]*>(.*?)</form>', html, re.S)
    assert form, "one claim form"
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.group(1)).group(1)
    button = re.search(
        rf'<button type="submit" form="claim" formaction="([^"]+/{ids[-1]}/actions/claim)"'
        r' name="version" value="(\d+)"',
        html,
    )
    assert button, "a claim button for the newest case"
    assert html.count("<form") == html.count("</form>")
    response = client.post(
        unescape(button.group(1)), data={"csrf_token": token, "version": button.group(2)}
    )
    assert response.status_code == 302
    holder = query(lambda: db.session.get(Application, ids[-1]).assignee_id)
    assert holder == query(lambda: user("reviewer01").id)
    shown = client.get("/review/?status=in_review&sort=new").get_data(as_text=True)
    assert f"/{ids[-1]}/actions/claim" not in shown


@pytest.mark.parametrize("total", [3, 25])
def test_the_navigation_counts_every_unread_reminder_whatever_the_queue_lists(client, query, total):
    """The queue lists the 20 newest unread reminders; the navigation's count is all of them
    (taken from that list when it holds them all, counted otherwise)."""

    def remind() -> int:
        reviewer = user("reviewer01")
        db.session.execute(
            insert(StaffReminder),
            [
                {"department_id": reviewer.department_id, "kind": "due_soon", "body": f"RMD{i}"}
                for i in range(total)
            ],
        )
        db.session.commit()
        return review.unread_reminder_count(reviewer)

    unread = query(remind)
    assert unread >= total
    login(client, "reviewer01")
    html = client.get("/review/").get_data(as_text=True)
    assert f"（{unread} 条未读）" in html
    assert len(re.findall(r"<li>RMD\d+</li>", html)) == min(total, 20)


def test_the_heading_follows_a_renamed_department(client, query):
    """The department's name is kept with the filter choices (publish generation): a rename
    is a catalogue commit, so the next page shows it."""
    login(client, "reviewer01")
    assert "改名后的部门" not in client.get("/review/").get_data(as_text=True)

    def rename():
        department = db.session.get(Department, user("reviewer01").department_id)
        department.name = "改名后的部门"
        db.session.commit()

    query(rename)
    assert '<p class="lead">改名后的部门 · ' in client.get("/review/").get_data(as_text=True)


def test_the_step_filter_finds_the_cases_at_that_step_of_their_own_version(app_ctx):
    version = police_item()
    names = [s["name"] for s in version.steps or []]
    assert len(names) >= 2
    ids = add_cases(12, tag="STP", statuses=("in_review",), version=version)
    db.session.execute(
        update(Application).where(Application.id.in_(ids[::2])).values(current_step=1)
    )
    db.session.commit()
    reviewer = user("reviewer01")

    def at_step(name: str) -> set[int]:
        return {
            a.id
            for a in db.session.scalars(
                select(Application).where(Application.id.in_(department_open_ids()))
            )
            if a.current_step < len(a.item_version.steps or [])
            and a.item_version.steps[a.current_step].get("name") == name
        }

    for index, name in enumerate(names[:2]):
        shown = {r.app.id for r in review.queue(reviewer, step=name, page_size=1000).rows}
        assert shown == at_step(name), name
        assert set(ids[1::2] if index == 0 else ids[::2]) <= shown
    assert not review.queue(reviewer, step="没有这个环节").rows


def test_the_first_page_is_one_statement_postgresql_plans_once(app, app_ctx, backend):
    """The queue's first page (no filter, no cursor: what a reviewer opens all day) binds no
    parameter, so PostgreSQL keeps one plan for it per connection. With the department bound
    it planned the statement again on every request (1-1.4 ms at a million cases, more than
    running it): a big department's custom plan always looked cheaper than the generic one."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL's plan cache (SQLite binds its OFFSET 0 whatever the query)")
    reviewer = db.session.scalar(select(User).where(User.username == "reviewer01"))
    with queue_statements(app) as statements:
        for _ in range(12):  # psycopg prepares a statement on its fifth run
            review.queue(reviewer)
            review.queue(reviewer, sort="new")
    parameters = [p for _statement, p in statements]
    assert len(parameters) == 24 and not any(parameters), parameters[:2]
    plans = db.session.execute(
        text(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE 'SELECT applications.id%'"
        )
    ).all()
    assert len(plans) == 2 and all(custom == 0 and generic > 0 for generic, custom in plans), plans


def test_a_states_first_page_walks_its_own_index_on_postgresql(app, app_ctx, backend):
    """One state's cases, due first (?status=), come from ix_applications_queue_state_due in
    the page's order: through the department's whole open queue instead, PostgreSQL skipped
    18,373 other cases and took 25 ms for 在审查 at a million cases (0.9 ms this way)."""
    if backend != "postgresql":
        pytest.skip("SQLite orders NULL first in ix_applications_department_status_due already")
    add_cases(40, tag="PS")
    reviewer = db.session.scalar(select(User).where(User.username == "reviewer01"))
    with queue_statements(app) as statements:
        review.queue(reviewer, status="in_review")
    ((statement, parameters),) = statements
    assert not parameters, parameters  # the state is written into the SQL, as the index's
    # A test database holds a few dozen cases, where a scan and a sort cost nothing and either
    # index looks as cheap as the other (the plan changed from run to run). With the statistics
    # of the cases just added, and scans and sorts priced out as at a million cases, the
    # question left is the one asked: which index gives the page's order for one state.
    db.session.execute(text("ANALYZE applications"))
    for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
        db.session.execute(text(f"SET LOCAL {setting} = off"))
    plan = "\n".join(
        row[0] for row in db.session.connection().exec_driver_sql("EXPLAIN " + statement)
    )
    assert "ix_applications_queue_state_due" in plan and "Sort" not in plan, plan

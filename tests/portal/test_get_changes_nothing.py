"""No state change on GET (issue 13): every GET route of the access matrix (tests/access/), as
every role, leaves every table's row count and highest id as they were.

One test, one rolled-back transaction: each role logs in once (a login writes), then each GET
is bracketed by one query that reads count(*) and max(id) of every table. A route that writes a
table on a GET by design is named in ALLOWED with the table and the reason."""

from __future__ import annotations

from sqlalchemy import text

from portal.extensions import db
from tests.access import ROLES
from tests.conftest import login
from tests.portal.test_access_matrix import ACCOUNTS, GET_MATRIX

# (endpoint, table) → why that GET writes it. Reveals of personal data are POSTs; opening a
# citizen's document is a plain link (an <a> or <img>), so it is logged as it is served.
ALLOWED: dict[tuple[str, str], str] = {
    ("review.material_file", "data_use_logs"): (
        "a reviewer opening a citizen's document is recorded in the citizen's data-use log"
    ),
}


# a GET answered 403 writes its audit event (portal/errors.py, services/counter.py)
REFUSAL_EVENTS = {"access_refused", "counter_access_refused"}


def _snapshot_sql() -> str:
    parts = []
    for table in db.metadata.sorted_tables:
        has_id = "id" in table.c
        parts.append(
            f"SELECT '{table.name}' AS tbl, count(*) AS n, "
            + (f"max({table.name}.id)" if has_id else "0")
            + f" AS m FROM {table.name}"
        )
    return " UNION ALL ".join(parts)


def test_no_get_route_changes_any_table(app, client, query):
    sql = text(_snapshot_sql())

    def snapshot():
        return query(lambda: {row.tbl: (row.n, row.m) for row in db.session.execute(sql)})

    changed: list[str] = []
    checked = 0
    for role in ROLES:
        browser = app.test_client()
        if role != "anonymous":
            assert login(browser, ACCOUNTS[role]).status_code == 302
        for endpoint in sorted(GET_MATRIX):
            path, _expected = GET_MATRIX[endpoint]
            if callable(path):
                path = query(path)
            before = snapshot()
            status = browser.get(path).status_code
            after = snapshot()
            checked += 1
            if status == 403 and before["events"] != after["events"]:
                # a refusal is audited (ASVS): only refusal events may appear
                since = before["events"][1] or 0
                actions = query(
                    lambda since=since: set(
                        db.session.scalars(
                            text("SELECT action FROM events WHERE id > :m"), {"m": since}
                        )
                    )
                )
                if actions <= REFUSAL_EVENTS:
                    after["events"] = before["events"]
            diff = {
                t: (before[t], after[t])
                for t in before
                if before[t] != after[t] and (endpoint, t) not in ALLOWED
            }
            if diff:
                changed.append(f"{role} GET {path} ({endpoint}): {diff}")
    assert checked >= len(GET_MATRIX) * len(ROLES)
    assert not changed, "GET requests that wrote:\n" + "\n".join(changed)

"""CSRF on every POST route (issue 13), not only the POST-only ones: for every rule of the URL
map that accepts POST, a POST without a token from a logged-in person of a role that may use
the route is refused with 400, and no table changes (count(*) and max(id) of every table)."""

from __future__ import annotations

from sqlalchemy import text

from portal.extensions import db
from tests.conftest import login
from tests.portal.test_access_matrix import ACCOUNTS, GET_MATRIX, POST_ONLY


def _snapshot_sql() -> str:
    return " UNION ALL ".join(
        f"SELECT '{t.name}' AS tbl, count(*) AS n, "
        + (f"max({t.name}.id)" if "id" in t.c else "0")
        + f" AS m FROM {t.name}"
        for t in db.metadata.sorted_tables
    )


def _who_may(endpoint: str) -> str:
    """A role the matrix lets see the route (its GET answers 200), else admin."""
    if endpoint in GET_MATRIX:
        expected = GET_MATRIX[endpoint][1]
        for role in ("citizen", "counter", "reviewer", "admin", "anonymous"):
            if expected.get(role) == 200:
                return role
    return "admin"


def test_every_post_route_refuses_a_post_without_a_token(app, query):
    sql = text(_snapshot_sql())

    def snapshot():
        return query(lambda: {row.tbl: (row.n, row.m) for row in db.session.execute(sql)})

    rules = [r for r in app.url_map.iter_rules() if "POST" in (r.methods or ())]
    clients = {}
    failures: list[str] = []
    for rule in sorted(rules, key=lambda r: r.endpoint):
        path = (GET_MATRIX.get(rule.endpoint) or (POST_ONLY.get(rule.endpoint),))[0]
        assert path is not None, f"{rule.endpoint} is not in tests/access/"
        if callable(path):
            path = query(path)
        role = _who_may(rule.endpoint)
        if role not in clients:
            clients[role] = app.test_client()
            if role != "anonymous":
                assert login(clients[role], ACCOUNTS[role]).status_code == 302
        before = snapshot()
        response = clients[role].post(path, data={"x": "1"})
        after = snapshot()
        changed = {t for t in before if before[t] != after[t]}
        if response.status_code != 400 or changed:
            failures.append(f"{rule.endpoint} {path} as {role}: {response.status_code} {changed}")
    print(f"POST routes checked without a CSRF token: {len(rules)}")
    assert len(rules) > 50
    assert not failures, "\n".join(failures)

"""No input makes a server error: every route, with malformed numbers and strings in its path,
its query string and its form (issue 13 #4).

Three passes, each over every rule of the URL map:
- the path: every ``<int:…>`` beyond a database id (2**31, 2**63, 2**64…) and every string
  argument replaced by awkward text;
- the query string: every page the access matrix knows (real demo objects), with every
  parameter name the views read set to each awkward value at once;
- the form: every POST route with every form field name the portal knows set to each awkward
  value (CSRF is switched off for this pass only: with it the request stops at the token).
Then hypothesis draws further combinations. A response of 500 or more, or an exception the
test client re-raises, is a failure; every other status is an answer.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.access import merged
from tests.conftest import login

ROOT = Path(__file__).resolve().parents[2]
GET_MATRIX, POST_ONLY = merged()
ACCOUNTS = {
    "citizen": "13800000001",
    "counter": "counter01",
    "reviewer": "reviewer01",
    "admin": "admin",
}
AWKWARD = [
    "²",  # str.isdigit() is true, int() fails
    "١٢٣",  # Arabic-Indic digits: int() accepts them
    "99999999999999999999",  # past 2**64
    "2147483648",  # 2**31: past PostgreSQL's integer
    "-1",
    "",
    "2026-02-30",
    "9999-12-31",
    "\x00",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "x" * 5000,
]
# the query pass renders every page once per value: the values that parse differently
QUERY_VALUES = ["²", "١٢٣", "99999999999999999999", "2147483648", "-1", "9999-12-31", "\x00"]
BIG_IDS = ["2147483648", "99999999999999999999"]  # past PostgreSQL's integer; past 2**64

_READS = re.compile(r"request\.(?:args|form|values)\.get(?:list)?\(\s*[\"']([\w-]+)[\"']")
_FIELDS = re.compile(r"^\s+(\w+)\s*=\s*\w*(?:Field|field)\(", re.M)


def _names() -> list[str]:
    """Every parameter name a view reads and every form field the portal declares, plus the
    numbered names some forms use (m_<requirement>, t_<item>, f_<field>, file_<n>)."""
    names = {"page", "day", "after", "theme", "department", "version", "q", "next"}
    for path in (ROOT / "portal").rglob("*.py"):
        names.update(_READS.findall(path.read_text(encoding="utf-8")))
    for path in (ROOT / "forms").rglob("*.py"):
        names.update(_FIELDS.findall(path.read_text(encoding="utf-8")))
    names.update({"m_1", "t_1", "f_1", "r_1", "file_1", "m_99999999999999999999"})
    return sorted(names)


NAMES = _names()


def _role_for(path: str) -> str:
    """The account most likely to get past a route's guard, so the values reach the view."""
    if path.startswith("/admin"):
        return "admin"
    if path.startswith(("/review", "/notices/admin")):
        return "reviewer"
    if path.startswith(("/counter", "/queue", "/appointments/hall", "/kiosk")):
        return "counter"
    return "citizen"


def _fill(rule, value_for_int: str, value_for_str: str) -> str:
    """The rule's path with every argument replaced."""

    def repl(match: re.Match) -> str:
        converter = match.group(1) or "default"
        if converter == "int":
            return value_for_int
        if converter.startswith("any("):
            return converter[4:].split(",")[0].strip(" )'\"")
        return value_for_str

    return re.sub(r"<(?:([^:>]+):)?[^>]+>", repl, rule.rule)


class Clients:
    """One logged-in test client per role, made on first use."""

    def __init__(self, app):
        self.app = app
        self.by_role: dict[str, object] = {}

    def __call__(self, role: str):
        if role not in self.by_role:
            client = self.app.test_client()
            if role != "anonymous":
                assert login(client, ACCOUNTS[role]).status_code == 302
            self.by_role[role] = client
        return self.by_role[role]


def _answer(client, method: str, path: str, **kwargs) -> tuple[int | None, str | None]:
    """(the status, None) when the portal answered, else (None, what went wrong)."""
    try:
        response = client.open(path, method=method, **kwargs)
    except Exception as exc:  # the test client re-raises what the view raised
        return None, f"{method} {path[:120]}: {exc!r}"[:400]
    response.close()
    if response.status_code >= 500:
        return response.status_code, f"{method} {path[:120]}: HTTP {response.status_code}"
    return response.status_code, None


def _send(client, method: str, path: str, **kwargs) -> str | None:
    return _answer(client, method, path, **kwargs)[1]


@pytest.fixture
def no_csrf(app):
    app.config["WTF_CSRF_ENABLED"] = False
    yield
    app.config["WTF_CSRF_ENABLED"] = True


def _rules(app, method: str):
    return [r for r in app.url_map.iter_rules() if r.endpoint != "static" and method in r.methods]


def test_out_of_range_ids_and_odd_strings_in_paths(app, client):
    clients = Clients(app)
    failures, sent = [], 0
    for rule in _rules(app, "GET"):
        for big in BIG_IDS:
            for text in ("²", "x" * 300):
                path = _fill(rule, big, text)
                for role in sorted({"anonymous", _role_for(path)}):
                    sent += 1
                    status, problem = _answer(clients(role), "GET", path)
                    if problem:
                        failures.append(problem)
                    elif "int:" in rule.rule:
                        # an id past the database's integer is not a number: never found
                        assert status in (302, 400, 403, 404), (path, role, status)
    print(f"fuzz paths: {sent} requests")
    assert sent > 300
    assert not failures, "\n".join(failures)


def test_awkward_values_in_every_query_string(app, client, query):
    clients = Clients(app)
    failures, sent = [], 0
    for endpoint, (path, expected) in sorted(GET_MATRIX.items()):
        if callable(path):
            path = query(path)
        role = next(
            (r for r in ("citizen", "counter", "reviewer", "admin") if expected[r] == 200),
            "anonymous",
        )
        path, _, own = path.partition("?")
        for value in QUERY_VALUES:
            sent += 1
            params = {**dict.fromkeys(NAMES, value), **dict(parse_qsl(own))}
            if problem := _send(clients(role), "GET", path, query_string=params):
                failures.append(
                    f"{endpoint} as {role}, every parameter = {value[:20]!r}: {problem}"
                )
    print(f"fuzz query strings: {sent} requests over {len(GET_MATRIX)} pages")
    assert sent >= len(GET_MATRIX) * len(QUERY_VALUES)
    assert not failures, "\n".join(failures)


def test_awkward_values_in_every_form(app, client, query, no_csrf):
    clients = Clients(app)
    known = {**{k: v[0] for k, v in GET_MATRIX.items()}, **POST_ONLY}
    failures, sent = [], 0
    for rule in _rules(app, "POST"):
        path = known.get(rule.endpoint)
        path = query(path) if callable(path) else path or _fill(rule, "1", "SMZX")
        role = _role_for(path)
        for value in AWKWARD:
            sent += 1
            data = dict.fromkeys(NAMES, value)
            if problem := _send(clients(role), "POST", path, data=data):
                failures.append(
                    f"{rule.endpoint} as {role}, every field = {value[:20]!r}: {problem}"
                )
    print(f"fuzz forms: {sent} requests over {sent // len(AWKWARD)} POST routes")
    assert sent >= 50 * len(AWKWARD)
    assert not failures, "\n".join(failures)


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_generated_values_anywhere(app, client, no_csrf, data):
    """Hypothesis picks a route, a method, the values of its path arguments, and a few
    parameters with generated text or integers."""
    rules = sorted(
        (r for r in app.url_map.iter_rules() if r.endpoint != "static"), key=lambda r: r.rule
    )
    rule = data.draw(st.sampled_from(rules), label="rule")
    method = data.draw(st.sampled_from(sorted(rule.methods & {"GET", "POST"})), label="method")
    value = st.one_of(
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.text(max_size=40),
    )
    path = _fill(rule, data.draw(value.filter(str.isdigit) | st.just("1")), "SMZX")
    params = data.draw(st.dictionaries(st.sampled_from(NAMES), value, max_size=6), label="params")
    role = data.draw(st.sampled_from(["anonymous", _role_for(path)]), label="role")
    clients = Clients(app)
    kwargs = {"query_string": params} if method == "GET" else {"data": params}
    assert _send(clients(role), method, path, **kwargs) is None

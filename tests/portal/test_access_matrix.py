"""Every route × every role → the expected status. Routes are declared per area in tests/access/."""

import pytest

from portal.caching import is_public
from tests.access import ROLES, merged
from tests.conftest import login

ACCOUNTS = {
    "citizen": "13800000001",
    "counter": "counter01",
    "reviewer": "reviewer01",
    "admin": "admin",
}
GET_MATRIX, POST_ONLY = merged()
# the offline intake's app shell, kept by the clerk's service worker: no citizen data in it
# (only the clerk's own name), revalidated on every use
OFFLINE_SHELL = {"counter.offline", "counter.offline_catalogue", "counter.service_worker"}


def test_every_route_is_in_the_matrix(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()} - {"static"}
    missing = endpoints - set(GET_MATRIX) - set(POST_ONLY)
    assert not missing, f"add these routes to tests/access/: {sorted(missing)}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", sorted(GET_MATRIX))
def test_get_access(client, query, role, endpoint):
    path, expected = GET_MATRIX[endpoint]
    if callable(path):  # a path that needs a demo object's id
        path = query(path)
    if role != "anonymous":
        assert login(client, ACCOUNTS[role]).status_code == 302
    response = client.get(path)
    assert response.status_code == expected[role], (endpoint, role, path)
    if response.status_code == 302 and role == "anonymous":
        assert "/auth/login" in response.headers["Location"]
    # nothing a logged-in person sees, and no page that is not public, may be kept by a browser
    # or a proxy (shared computers in the hall): only anonymous public pages may be cached
    cache = response.headers.get("Cache-Control", "")
    if endpoint in OFFLINE_SHELL and response.status_code == 200:
        assert cache == "no-cache", endpoint
    elif role != "anonymous" or not is_public(client.application, endpoint):
        assert "no-store" in cache, (endpoint, role, cache)
    else:
        assert "no-store" not in cache and "Cookie" in response.headers.get("Vary", ""), endpoint


@pytest.mark.parametrize("endpoint", sorted(POST_ONLY))
def test_post_only_routes_refuse_get_and_require_csrf(client, query, endpoint):
    path = POST_ONLY[endpoint]
    if callable(path):
        path = query(path)
    assert client.get(path).status_code == 405
    assert login(client, "admin").status_code == 302
    response = client.post(path, data={})
    assert response.status_code == 400

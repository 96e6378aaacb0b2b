"""The page after a clerk's logout (and the login page after an expired session) runs the
offline intake's clean-up once; a citizen's logout and an ordinary page do not."""

from __future__ import annotations

from tests.conftest import csrf_token

CLEANUP = "js/offline-cleanup.js"


def log_out(client) -> str:
    token = csrf_token(client, "/")
    response = client.post("/auth/logout", data={"csrf_token": token})
    assert response.status_code == 302
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_clerks_logout_runs_the_cleanup_once(client, login_as):
    login_as("counter01")
    assert CLEANUP not in client.get("/counter/").get_data(as_text=True)
    after = log_out(client)
    assert CLEANUP in after and 'data-shell="/counter/offline"' in after
    assert CLEANUP not in client.get("/").get_data(as_text=True)  # once, not on every page


def test_a_citizens_logout_does_not(client, login_as):
    login_as("13800000002")
    assert CLEANUP not in log_out(client)


def test_the_login_page_after_an_expired_session_runs_it(client):
    assert CLEANUP in client.get("/auth/login?expired=1").get_data(as_text=True)
    assert CLEANUP not in client.get("/auth/login").get_data(as_text=True)

"""Stored PDFs (notices, e-licences, every stored file) are served from storage as issued, with
the key's digest as ETag: a client that has the file gets a 304 after the access check, a
stranger holding the ETag still gets a 404, and personal files stay no-store."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import Notice
from tests.conftest import login
from tests.portal.test_review_routes import act, case_state, submit_committed_case


def test_a_notice_is_a_304_for_its_owner_and_a_404_for_a_stranger(client, query):
    case_id = submit_committed_case(query)
    login(client, "reviewer01")
    act(client, case_id, "accept", case_state(query, case_id)[1])
    notice_id = query(
        lambda: db.session.scalar(select(Notice.id).where(Notice.application_id == case_id))
    )
    owner = client.application.test_client()
    login(owner, "13800000002")
    path = f"/cases/{case_id}/notices/{notice_id}"
    first = owner.get(path)
    assert first.status_code == 200 and first.data.startswith(b"%PDF")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-store"
    again = owner.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["Cache-Control"] == "private, no-store"
    stranger = client.application.test_client()
    login(stranger, "13800000001")
    assert stranger.get(path, headers={"If-None-Match": etag}).status_code == 404
    staff = client.get(f"/review/cases/{case_id}/notices/{notice_id}")
    assert staff.status_code == 200 and staff.headers["ETag"] == etag

"""Four-eyes publishing (issue 12): the admin who submits a guide version for review cannot
publish it (``PUBLISH_FOUR_EYES``, on by default); another admin can; the review page shows
the field-by-field diff to the published version; both names are recorded and shown."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Event, ItemVersion, ServiceItem, User, VersionStatus
from services import catalogue
from tests.conftest import csrf_token, login


def _user_id(username: str) -> int:
    return db.session.scalar(select(User.id).where(User.username == username))


@pytest.fixture
def draft(query) -> int:
    """A new draft of a published demo item, with its name changed (committed)."""

    def make() -> int:
        live_id = db.session.scalar(
            select(ServiceItem.published_version_id)
            .where(ServiceItem.published_version_id.is_not(None))
            .order_by(ServiceItem.id)
            .limit(1)
        )
        live = catalogue.load_version(live_id)
        admin = db.session.get(User, _user_id("admin"))
        version = catalogue.create_draft_from(live, admin)
        catalogue.update_draft(
            version,
            guide={"name": live.name + "（四眼测试）"},
            theme_ids=None,
            expected_lock=version.lock_version,
            actor=admin,
        )
        db.session.commit()
        return version.id

    return query(make)


def _lock(query, version_id: int) -> str:
    return str(query(lambda: db.session.get(ItemVersion, version_id).lock_version))


def _act(client, query, version_id: int, action: str):
    return client.post(
        f"/admin/versions/{version_id}/{action}",
        data={
            "csrf_token": csrf_token(client, f"/admin/versions/{version_id}"),
            "lock": _lock(query, version_id),
        },
    )


def _state(query, version_id: int):
    def read():
        v = db.session.get(ItemVersion, version_id)
        return v.status, v.submitted_by_id, v.published_by_id

    return query(read)


def test_the_submitter_cannot_publish_and_another_admin_can(app, client, query, draft):
    assert login(client, "admin").status_code == 302
    assert _act(client, query, draft, "submit").status_code == 302
    admin_id, admin2_id = query(lambda: (_user_id("admin"), _user_id("admin2")))
    assert _state(query, draft) == (VersionStatus.in_review, admin_id, None)

    # the review page tells the submitter why there is no publish button
    page = client.get(f"/admin/versions/{draft}").get_data(as_text=True)
    assert 'id="four-eyes"' in page
    assert f"/admin/versions/{draft}/publish" not in page

    # a crafted POST is refused: 409, the reason on the page, nothing published, an audit event
    refused = _act(client, query, draft, "publish")
    assert refused.status_code == 409
    assert "不能由您本人发布" in refused.get_data(as_text=True)
    assert _state(query, draft) == (VersionStatus.in_review, admin_id, None)
    events = query(
        lambda: db.session.scalars(
            select(Event).where(Event.action == "catalogue.publish_refused")
        ).all()
    )
    assert [(e.actor_id, e.details["version_id"]) for e in events] == [(admin_id, draft)]

    other = app.test_client()
    assert login(other, "admin2").status_code == 302
    page = other.get(f"/admin/versions/{draft}").get_data(as_text=True)
    assert f"/admin/versions/{draft}/publish" in page
    assert _act(other, query, draft, "publish").status_code == 302
    assert _state(query, draft) == (VersionStatus.published, admin_id, admin2_id)

    # both names on the version page and in the item's history
    page = other.get(f"/admin/versions/{draft}").get_data(as_text=True)
    people = re.search(r'<dl class="facts" id="version-people">(.*?)</dl>', page, re.S).group(1)
    assert "提交审核人" in people and "系统管理员" in people
    assert "发布人" in people and "指南审核员" in people
    item_id = query(lambda: db.session.get(ItemVersion, draft).item_id)
    history = other.get(f"/admin/items/{item_id}").get_data(as_text=True)
    row = re.search(r"<tr>\s*<th scope=\"row\">第 \d+ 版</th>.*?</tr>", history, re.S).group(0)
    assert "系统管理员" in row and "指南审核员" in row


def test_one_admin_may_publish_when_the_setting_is_off(app, client, query, draft, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLISH_FOUR_EYES", False)
    assert login(client, "admin").status_code == 302
    assert _act(client, query, draft, "submit").status_code == 302
    assert f"/admin/versions/{draft}/publish" in client.get(f"/admin/versions/{draft}").get_data(
        as_text=True
    )
    assert _act(client, query, draft, "publish").status_code == 302
    admin_id = query(lambda: _user_id("admin"))
    assert _state(query, draft) == (VersionStatus.published, admin_id, admin_id)


def test_a_version_returned_and_resubmitted_by_the_reviewer_needs_a_third_look(
    app, client, query, draft
):
    """Whoever submits last is the one who may not publish."""
    assert login(client, "admin").status_code == 302
    assert _act(client, query, draft, "submit").status_code == 302
    other = app.test_client()
    assert login(other, "admin2").status_code == 302
    assert _act(other, query, draft, "return").status_code == 302
    assert _act(other, query, draft, "submit").status_code == 302
    assert _act(other, query, draft, "publish").status_code == 409
    assert _act(client, query, draft, "publish").status_code == 302


def test_the_review_page_shows_the_diff_to_the_published_version(client, query, draft):
    assert login(client, "admin").status_code == 302
    assert _act(client, query, draft, "submit").status_code == 302
    live_name = query(lambda: db.session.get(ItemVersion, draft).item.published_version.name)
    page = client.get(f"/admin/versions/{draft}").get_data(as_text=True)
    section = re.search(r'<section aria-labelledby="changes-title".*?</section>', page, re.S).group(
        0
    )
    assert "与现行发布版本" in section
    row = re.search(r"<tr><th scope=\"row\">事项名称</th>(.*?)</tr>", section, re.S).group(1)
    assert live_name in row and live_name + "（四眼测试）" in row
    assert "共有 1 处不同" in section

"""A notice being rendered by a background worker (services/tasks.py): the citizen's, the
reviewer's and the clerk's case pages say 通知书生成中 with a plain reload link (no script, no
automatic refresh), in normal and 长辈模式, at desktop and phone widths, with no axe violation.
No worker runs here, so the notice stays pending for the whole module.

``PORTAL_SHOTS_DIR=/some/dir`` keeps a screenshot of each page."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from portal.extensions import db
from services import workflow
from tests.access.counter import _case as counter_case
from tests.browser.conftest import assert_accessible, browser_login, serving, toggle_elder
from tests.conftest import dispose_app
from tests.workflow_cases import RESIDENCE_PERMIT, submit_case, user

pytestmark = pytest.mark.browser
PENDING = "通知书生成中"
SHOTS = os.environ.get("PORTAL_SHOTS_DIR")


@pytest.fixture(scope="module")
def queued(database_factory, redis_url):
    """A live portal whose tasks go to Redis, with two accepted cases whose 受理通知书 waits."""
    app = database_factory("pending", seed=True, CELERY_BROKER_URL=redis_url)
    with app.app_context():
        online = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
        db.session.commit()
        workflow.perform(user("reviewer01"), online.id, "accept", online.version)
        at_counter = counter_case()
        db.session.commit()
        workflow.perform(user("reviewer01"), at_counter.id, "accept", at_counter.version)
        db.session.commit()
        cases = {"online": online.id, "counter": at_counter.id}
        db.session.remove()
    with serving(app) as base:
        yield base, cases
    dispose_app(app)


PAGES = [
    ("citizen", "13800000002", "/cases/{online}"),
    ("reviewer", "reviewer01", "/review/cases/{online}"),
    ("counter", "counter01", "/counter/cases/{counter}"),
]


@pytest.mark.parametrize(("role", "login", "path"), PAGES, ids=[p[0] for p in PAGES])
def test_a_pending_notice_reads_as_being_generated(browser, queued, role, login, path):
    base, cases = queued
    for width in (1280, 390):
        context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15000)
        try:
            browser_login(page, base, login)
            page.goto(base + path.format(**cases))
            for elder in (False, True):
                toggle_elder(page, elder)
                status = page.locator(".notice-pending")
                assert PENDING in status.first.inner_text()
                reload = status.first.locator("a")
                assert reload.get_attribute("href") == path.format(**cases)
                assert page.locator("meta[http-equiv=refresh]").count() == 0
                assert_accessible(page, f"{role} {width}px elder={elder}")
                if SHOTS:
                    Path(SHOTS).mkdir(parents=True, exist_ok=True)
                    page.screenshot(
                        path=f"{SHOTS}/pending-{role}-{width}-{'elder' if elder else 'normal'}.png",
                        full_page=True,
                    )
            toggle_elder(page, False)
        finally:
            context.close()

"""离线受理 in Chromium: the page is reloaded from the service worker's cache while offline, an
intake with a scanned file is queued (离线模式, 1 waiting), and sent by itself when the
connection returns — exactly one case, the scan stored as the citizen's document. A refused
intake is shown to staff next to the field to fix, and kept."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Application, Citizen, Document, Role, User
from seeds.factories import make_png
from services import accounts, clock
from tests.browser.conftest import assert_accessible, browser_login, toggle_elder
from tests.services.test_offline_intake import requirement, resident_id
from tests.workflow_cases import RESIDENCE_PERMIT, item_named

pytestmark = pytest.mark.browser


def requirement_ids(live_app) -> dict[str, int]:
    with live_app.app_context():
        try:
            item = item_named(RESIDENCE_PERMIT)
            return {code: requirement(item, code).id for code in ("M001", "M056")}
        finally:
            db.session.remove()


def open_offline_page(page, base):
    browser_login(page, base, "counter01")
    page.goto(f"{base}/counter/offline")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    expect(page.locator("#item option", has_text=RESIDENCE_PERMIT)).to_have_count(1)


def reload_offline(page):
    page.context.set_offline(True)
    response = page.reload()
    assert response is not None and response.status == 200 and response.from_service_worker
    expect(page.locator("h1")).to_have_text("离线受理")
    expect(page.locator("#item option", has_text=RESIDENCE_PERMIT)).to_have_count(
        1
    )  # the cached catalogue
    expect(page.locator("#offline-banner")).to_have_attribute("data-state", "offline")


def fill_intake(page, ids, *, name, id_number, scans=True, phone="13900002222"):
    page.select_option("#item", label=RESIDENCE_PERMIT)
    page.fill("#a_name", name)
    page.fill("#a_id_number", id_number)
    page.fill("#a_phone", phone)
    page.fill("#a_address", "拱墅区湖墅南路 8 号")
    page.check("label:has-text('在本市工作（有社保）')")
    page.check("label:has-text('否，本人办理')")
    page.fill("#q_move_in_date", "2025-03-04")
    if scans:
        page.set_input_files(
            f"#m_{ids['M001']}-file",
            files=[{"name": "id-card.png", "mimeType": "image/png", "buffer": make_png()}],
        )
        page.set_input_files(
            f"#m_{ids['M056']}-file",
            files=[
                {
                    "name": "photo.png",
                    "mimeType": "image/png",
                    "buffer": make_png(colour=(250, 250, 250)),
                }
            ],
        )
        page.fill(f"#m_{ids['M056']}-issued", clock.local_today().isoformat())
    page.click("#queue-intake")


def test_an_intake_made_offline_is_sent_once_when_back_online(page, live):
    base, live_app = live
    ids = requirement_ids(live_app)
    open_offline_page(page, base)
    assert_accessible(page, "offline intake")
    reload_offline(page)

    id_number = resident_id("33010519870512451")
    fill_intake(page, ids, name="孙离线", id_number=id_number)
    banner = page.locator("#offline-banner")
    expect(banner).to_have_attribute("data-waiting", "1")
    expect(banner).to_contain_text("离线模式")
    expect(banner).to_contain_text("1 份受理待发送")
    expect(page.locator("tr[data-status=queued]")).to_have_count(1)
    assert page.get_attribute("#a_id_number", "autocomplete") == "off"
    reload_offline(page)  # kept in the browser across a reload, still waiting
    expect(page.locator("tr[data-status=queued]")).to_have_count(1)
    expect(banner).to_have_attribute("data-waiting", "1")

    page.context.set_offline(False)
    sent = page.locator("tr[data-status=sent]")
    expect(sent).to_have_count(1, timeout=20000)
    expect(sent).to_contain_text(re.compile(r"已受理，办件编号 CK\d{14}"))
    expect(sent).to_contain_text("孙*线")
    expect(banner).to_have_attribute("data-waiting", "0")
    number = re.search(r"CK\d{14}", sent.inner_text()).group(0)

    page.reload()  # on load, nothing is sent again
    expect(page.locator("tr[data-status=sent]")).to_have_count(1)
    with live_app.app_context():
        try:
            citizen = db.session.scalar(select(Citizen).where(Citizen.id_number == id_number))
            cases = list(
                db.session.scalars(
                    select(Application).where(Application.applicant_id == citizen.id)
                )
            )
            assert [c.number for c in cases] == [number] and cases[0].status == "submitted"
            docs = {
                d.original_filename: d
                for d in db.session.scalars(select(Document).where(Document.owner_id == citizen.id))
            }
            assert (
                set(docs) == {"id-card.png", "photo.png"}
                and docs["id-card.png"].source == "counter"
            )
            chosen = {m.document_id for m in cases[0].materials}
            assert {d.id for d in docs.values()} <= chosen
        finally:
            db.session.remove()


def test_a_refused_intake_is_shown_to_staff_and_kept(page, live):
    base, live_app = live
    ids = requirement_ids(live_app)
    with live_app.app_context():
        known = db.session.scalar(select(Citizen).where(Citizen.name == "王秀兰"))
        known_id = known.id_number
        cases_before = db.session.scalar(
            select(func.count())
            .select_from(Application)
            .where(Application.applicant_id == known.id)
        )
        db.session.remove()
    open_offline_page(page, base)
    reload_offline(page)
    good = resident_id("33010619900307123")
    fill_intake(
        page,
        ids,
        name="王不对",
        id_number=good[:-1] + ("1" if good[-1] != "1" else "2"),
        scans=False,
    )
    expect(page.locator("#a_id_number-error")).to_contain_text(
        "身份证号校验不通过"
    )  # checked in the browser
    expect(page.locator("tr[data-status=queued]")).to_have_count(0)
    fill_intake(page, ids, name="王不对", id_number=known_id)
    expect(page.locator("#offline-banner")).to_have_attribute("data-waiting", "1")

    page.context.set_offline(False)
    refused = page.locator("tr[data-status=refused]")
    expect(refused).to_have_count(1, timeout=20000)
    expect(page.locator("#offline-notice")).to_contain_text("服务器退回了这份受理")
    refused.get_by_role("button", name="修改").click()
    expect(page.locator("#a_name-error")).to_have_text("姓名与该身份证号的登记信息不一致")
    expect(page.locator("#a_name")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#a_name")).to_have_value("王不对")
    expect(page.locator("#intake-errors")).to_be_visible()
    assert_accessible(page, "offline intake with a refusal")

    page.reload()  # still kept, still refused: nothing is dropped silently
    expect(page.locator("tr[data-status=refused]")).to_have_count(1)
    with live_app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(Application)
                .where(Application.applicant_id == known.id)
            )
            == cases_before
        )
        db.session.remove()


def test_the_form_built_from_the_catalogue_suits_elder_mode_and_narrow_screens(page, live):
    """The every-page check sees the shell before an item is chosen; this one sees the
    conditions, questions and materials the script builds."""
    from tests.browser.test_every_page import ELDER_METRICS, OVERFLOW

    base, live_app = live
    ids = requirement_ids(live_app)
    open_offline_page(page, base)
    toggle_elder(page, to=True)
    expect(page.locator("#item option", has_text=RESIDENCE_PERMIT)).to_have_count(1)
    page.select_option("#item", label=RESIDENCE_PERMIT)
    expect(page.locator(f"#m_{ids['M056']}-issued")).to_be_visible()
    assert_accessible(page, "offline intake form in elder mode")
    metrics = page.evaluate(ELDER_METRICS)
    assert metrics["font"] >= 24 and not metrics["small"], metrics
    page.set_viewport_size({"width": 320, "height": 800})
    assert page.evaluate(OVERFLOW)["by"] <= 0


STORED = """() => new Promise((resolve, reject) => {
  const req = indexedDB.open("offline-intake", 1);
  req.onsuccess = () => {
    const all = req.result.transaction("intakes").objectStore("intakes").getAll();
    all.onsuccess = () => { resolve(all.result.map(r => [r.status, r.staff])); req.result.close(); };
    all.onerror = () => reject(all.error);
  };
  req.onerror = () => reject(req.error);
})"""
SHELL_CACHED = "async () => !!(await caches.match('/counter/offline'))"


def test_logout_forgets_sent_intakes_and_the_cached_page_but_keeps_unsent_work(page, live):
    """A shared computer: after counter01 logs out, the sent record and the cached page are
    gone; the unsent draft stays, shown to counter01 again but never to the next clerk."""
    base, live_app = live
    ids = requirement_ids(live_app)
    with live_app.app_context():
        counter01 = db.session.scalar(select(User).where(User.username == "counter01"))
        staff_id = str(counter01.id)
        accounts.create_staff(
            username="counter_shared",
            second_factor_exempt=True,  # logs in with the password only, as the demo accounts do
            password="Demo@2026",
            role=Role.counter,
            display_name="共用电脑窗口",
            department=counter01.department,
        )
        db.session.commit()
        db.session.remove()
    open_offline_page(page, base)
    reload_offline(page)
    fill_intake(
        page, ids, name="钱共用", id_number=resident_id("33010619850214321"), phone="13900003333"
    )
    page.context.set_offline(False)
    expect(page.locator("tr[data-status=sent]")).to_have_count(1, timeout=20000)
    page.fill("#a_name", "赵未完")  # an unsent draft, kept in the browser
    expect(page.locator("tr[data-status=draft]")).to_have_count(1)
    assert sorted(page.evaluate(STORED)) == [["draft", staff_id], ["sent", staff_id]]
    assert page.evaluate(SHELL_CACHED)

    page.click("header button:has-text('退出')")
    expect(page.locator("html")).to_have_attribute("data-offline-cleaned", "1")
    assert page.evaluate(STORED) == [["draft", staff_id]]
    assert not page.evaluate(SHELL_CACHED)
    page.context.set_offline(True)  # nothing left for the next person to open offline
    with pytest.raises(PlaywrightError):
        page.goto(f"{base}/counter/offline")
    page.context.set_offline(False)

    browser_login(page, base, "counter_shared")
    page.goto(f"{base}/counter/offline")
    expect(page.locator("#intake-empty")).to_be_visible()
    expect(page.locator("#intake-rows tr")).to_have_count(0)
    page.click("header button:has-text('退出')")
    open_offline_page(page, base)  # the same clerk finds the unsent draft again
    expect(page.locator("tr[data-status=draft]")).to_have_count(1)

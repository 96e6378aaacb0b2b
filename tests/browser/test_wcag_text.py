"""WCAG 2.2 AA on key pages, measured in Chromium: text spacing (1.4.12), 200 % zoom and
resized text (1.4.4, with 1.4.10 reflow at 640 CSS px), and notices read aloud from their HTML
summary (the PDF itself cannot be read by the browser's speech)."""

import random
import re
from datetime import date

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Application, Department, MaterialType, ServiceItem
from seeds.factories import make_id_number
from services import accounts, applications, workflow
from tests.browser.conftest import assert_accessible, browser_login
from tests.conftest import DEMO_PASSWORD
from tests.workflow_cases import RESIDENCE_PERMIT, submit_case, user

pytestmark = pytest.mark.browser

ID_RENEWAL = "330100GA0004"
CITIZEN = "13800000019"

# the text-spacing bookmarklet (WCAG 1.4.12): every element at once
TEXT_SPACING = (
    "* { line-height: 1.5 !important; letter-spacing: 0.12em !important;"
    " word-spacing: 0.16em !important; } p { margin-bottom: 2em !important; }"
)

# elements whose overflow is hidden or clipped but whose content does not fit: clipped text
CLIPPED = """() => {
  const found = [];
  for (const el of document.querySelectorAll('body *')) {
    if (['INPUT', 'TEXTAREA', 'SELECT', 'OPTION', 'SCRIPT', 'STYLE'].includes(el.tagName)) continue;
    if (el.closest('.visually-hidden, [hidden]')) continue;
    const cs = getComputedStyle(el);
    if (cs.display === 'none' || cs.visibility === 'hidden') continue;
    const hidesX = ['hidden', 'clip'].includes(cs.overflowX);
    const hidesY = ['hidden', 'clip'].includes(cs.overflowY);
    if ((hidesX && el.scrollWidth > el.clientWidth + 1) || (hidesY && el.scrollHeight > el.clientHeight + 1)) {
      found.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                 (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
                 ` ${el.scrollWidth}x${el.scrollHeight} in ${el.clientWidth}x${el.clientHeight}`);
    }
  }
  return found;
}"""
PAGE_SCROLLS = "() => document.documentElement.scrollWidth > document.documentElement.clientWidth"
# nav links a keyboard or pointer user can reach: rendered, and inside the viewport's width
NAV_UNREACHABLE = """() => [...document.querySelectorAll('.site-nav a')].filter(a => {
  const r = a.getBoundingClientRect();
  return r.width === 0 || r.height === 0 || r.left < 0 || r.right > document.documentElement.clientWidth;
}).map(a => a.textContent.trim())"""


@pytest.fixture(scope="module")
def facts(live_app):
    """A citizen's case with a correction notice (what to correct), and a seeded police case for
    the reviewer's page — made through the services in the live server's database."""
    with live_app.app_context():
        accounts.register_citizen(
            phone=CITIZEN,
            password=DEMO_PASSWORD,
            name="钱小文",
            address="人民路 19 号",
            id_number=make_id_number(
                date(1985, 6, 1), random.Random(19), female=False, area="310104"
            ),
        )
        case = submit_case(CITIZEN, RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
        photo = next(
            m for m in case.materials if m.requirement.material_type.name == "证件照数码回执"
        )
        workflow.perform(
            user("reviewer01"),
            case.id,
            "request_correction",
            case.version,
            fields={"address": "请写到门牌号"},
            materials={photo.requirement_id: "背景不是白色"},
        )
        db.session.commit()
        police = db.session.scalar(select(Department).where(Department.code == "GA"))
        seeded = db.session.scalar(
            select(Application.id).where(
                Application.department_id == police.id, Application.status != "draft"
            )
        )
        assert db.session.scalar(
            select(MaterialType.id).where(MaterialType.name == "证件照数码回执")
        )
        holder = user(CITIZEN)
        item = db.session.scalar(select(ServiceItem).where(ServiceItem.code == ID_RENEWAL))
        draft = applications.start_draft(actor=holder, applicant=holder.citizen, item=item)
        applications.save_conditions(draft, {"hukou_local": "yes", "minor": "no"})
        db.session.commit()
        result = {"case": case.id, "review_case": seeded, "draft": draft.id}
        db.session.remove()
    return result


@pytest.fixture
def spaced(browser):
    """A page whose context lets the test add the bookmarklet's style (the site's CSP forbids
    inline styles, as it should; a user's bookmarklet or extension is not bound by it)."""
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 1280, "height": 900}, bypass_csp=True
    )
    pg = context.new_page()
    pg.set_default_timeout(15000)
    yield pg
    context.close()


def visit_key_pages(page, base, facts):
    """Yield (label, url) for the sample pages, logging in as each needs."""
    yield "home", f"{base}/"
    yield "guide", f"{base}/items/{ID_RENEWAL}"
    browser_login(page, base, CITIZEN)
    page.goto(f"{base}/apply/drafts/{facts['draft']}/form")
    assert "第 2 步，共 4 步" in page.inner_text("main")
    yield "apply form", page.url
    page.context.clear_cookies()
    browser_login(page, base, "reviewer01")
    yield "review case", f"{base}/review/cases/{facts['review_case']}"


def check_pages(page, base, facts, prepare):
    problems = {}
    for label, url in visit_key_pages(page, base, facts):
        page.goto(url)
        page.wait_for_load_state("load")
        assert page.locator("h1").count() == 1, label
        prepare(page)
        page.wait_for_timeout(50)  # one frame for the new styles to lay out
        found = {
            "clipped": page.evaluate(CLIPPED),
            "scrolls": page.evaluate(PAGE_SCROLLS),
            "nav": page.evaluate(NAV_UNREACHABLE),
        }
        if found["clipped"] or found["scrolls"] or found["nav"]:
            problems[label] = found
    return problems


def test_text_spacing_clips_nothing_on_key_pages(spaced, live_server, facts):
    """1.4.12: with the bookmarklet's spacing on every element, no text is cut off and the
    page does not scroll sideways at 1280 px."""
    assert spaced.viewport_size["width"] == 1280
    problems = check_pages(
        spaced, live_server, facts, lambda p: p.add_style_tag(content=TEXT_SPACING)
    )
    assert not problems, problems


def test_the_spacing_check_finds_clipped_text(spaced, live_server):
    """The measurement itself: a box that hides its overflow and cannot hold its text is found."""
    page = spaced
    page.goto(f"{live_server}/")
    page.evaluate("""() => { const p = document.createElement('p'); p.id = 'too-small';
        p.style.cssText = 'height: 1em; overflow: hidden; width: 5em';
        p.textContent = '这段文字在增加行距之后放不下了'.repeat(3); document.querySelector('main').append(p); }""")
    page.add_style_tag(content=TEXT_SPACING)
    assert any(c.startswith("p#too-small") for c in page.evaluate(CLIPPED))


def test_200_percent_zoom_keeps_everything_visible_without_sideways_scrolling(
    browser, live_server, facts
):
    """1.4.4 and 1.4.10: a 1280 px window at 200 % is 640 CSS px wide at a device scale of 2."""
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 640, "height": 450}, device_scale_factor=2
    )
    try:
        zoomed = context.new_page()
        zoomed.set_default_timeout(15000)
        problems = check_pages(zoomed, live_server, facts, lambda p: None)
    finally:
        context.close()
    assert not problems, problems


def test_text_resized_to_200_percent_clips_nothing(spaced, live_server, facts):
    """1.4.4 by the browser's text size alone: the root font at 200 % (the layout is in rem)."""
    problems = check_pages(
        spaced,
        live_server,
        facts,
        lambda p: p.evaluate("() => { document.documentElement.style.fontSize = '200%'; }"),
    )
    assert not problems, problems


SPEECH_SPY = """
window.__spoken = [];
if ('speechSynthesis' in window) {
  const speak = window.speechSynthesis.speak.bind(window.speechSynthesis);
  window.speechSynthesis.speak = (utterance) => { window.__spoken.push(utterance.text); return speak(utterance); };
}
"""


def test_a_notice_summary_is_shown_next_to_its_pdf_and_read_aloud(browser, live_server, facts):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.add_init_script(SPEECH_SPY)
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        browser_login(page, live_server, CITIZEN)
        page.goto(f"{live_server}/cases/{facts['case']}")
        summary = page.locator(".notice-summary").first
        text = summary.inner_text()
        assert "补正材料通知书" in text and "需要一次补正的内容" in text and "背景不是白色" in text
        assert re.search(r"发出日期：\d{4}-\d{2}-\d{2}", text)
        item = page.locator(".notice-item").first
        assert item.locator("a[href*='/notices/']").inner_text().startswith("下载通知书原件")
        button = item.locator(".read-aloud button[data-action=start]")
        assert button.is_visible() and button.inner_text() == "朗读这份通知书"
        assert_accessible(page, "case page with notice summaries")
        button.click()
        spoken = page.evaluate("() => window.__spoken")
        assert len(spoken) == 1
        assert "背景不是白色" in spoken[0] and "需要一次补正的内容" in spoken[0]
        assert "办理进度" not in spoken[0]  # only the notice, not the whole page
        assert button.get_attribute("aria-pressed") == "true"
    finally:
        context.close()

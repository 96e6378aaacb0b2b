"""Every page of every role, in normal and in elder mode, checked in Chromium.

The list of pages is the access matrix (tests/access/), which itself fails when a route is
missing, so a new page cannot escape these checks. For each GET route the first role that
may open it does so; axe-core runs with the WCAG 2.2 A/AA tags in both modes, and in elder
mode the 适老化 numbers are measured as computed styles — at 1280 px and on 390 × 844 and
360 × 740 phone screens (header height, sideways scroll, words wider than their boxes, 24 px text).
"""

from __future__ import annotations

import os

import pytest

from portal.extensions import db
from tests.access import ROLES, merged
from tests.access.calendar import EXTRA_PAGES as CALENDAR_PAGES
from tests.access.delivery import EXTRA_PAGES as DELIVERY_PAGES
from tests.access.my_documents import EXTRA_PAGES as MY_DOCUMENTS_PAGES
from tests.access.phone import PREPARE
from tests.access.review_queue import EXTRA_PAGES as REVIEW_QUEUE_PAGES
from tests.access.statistics import EXTRA_PAGES as STATISTICS_PAGES
from tests.browser.conftest import assert_accessible, browser_login, toggle_elder
from tests.browser.staff_login import new_colleague, walk_first_login

pytestmark = pytest.mark.browser

ACCOUNTS = {
    "citizen": "13800000001",
    "counter": "counter01",
    "reviewer": "reviewer01",
    "admin": "admin",
}
GET_MATRIX, _ = merged()
NOT_PAGES = {  # JSON or text, not pages
    "ops.healthz",
    "ops.readyz",
    "ops.metrics",
    "queue.calls",
    "queue.desk_status",
}

ELDER_METRICS = """() => {
  const px = v => parseFloat(v);
  const body = getComputedStyle(document.body);
  const out = {font: px(body.fontSize), lineHeight: px(body.lineHeight) / px(body.fontSize), small: [], para: null};
  const main = document.getElementById('main');
  const mainWidth = main.getBoundingClientRect().width;
  for (const el of main.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;  // not rendered (hidden)
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden') continue;
    const fullRow = r.height >= 59.5 && r.width >= mainWidth * 0.6;
    if (!fullRow && (r.height < 59.5 || r.width < 59.5)) {
      out.small.push(`${el.tagName.toLowerCase()}#${el.id || ''}.${el.className || ''} ${Math.round(r.width)}x${Math.round(r.height)} "${(el.innerText || el.value || '').slice(0, 20)}"`);
    }
  }
  const p = main.querySelector('p');
  if (p) { const s = getComputedStyle(p); out.para = px(s.marginBottom) / px(s.lineHeight); }
  return out;
}"""


OVERFLOW = """() => {
  const root = document.documentElement;
  const culprits = [...document.body.querySelectorAll('*')]
    .filter(e => e.getBoundingClientRect().right > root.clientWidth + 0.5)
    .slice(0, 4).map(e => `${e.tagName.toLowerCase()}.${e.className} → ${Math.round(e.getBoundingClientRect().right)}`);
  return {by: root.scrollWidth - root.clientWidth, culprits};
}"""


# 长辈模式 on a phone (issue 11 §8): realistic phone screens, and what is measured on each page.
PHONES = [(390, 844), (360, 740)]
PHONE_METRICS = """() => {
  const main = document.getElementById('main');
  const header = document.querySelector('.site-header');
  const root = document.documentElement;
  const column = main.firstElementChild || main;
  const columnWidth = column.clientWidth - parseFloat(getComputedStyle(column).paddingLeft) - parseFloat(getComputedStyle(column).paddingRight);
  const h1 = document.querySelector('h1');
  const out = {header: header ? header.getBoundingClientRect().height : 0, scroll: root.scrollWidth - root.clientWidth,
               h1: h1 ? h1.getBoundingClientRect().top + scrollY : 0, minFont: 999, small: [], narrow: [], split: []};
  const name = el => el.tagName.toLowerCase() + (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  // the box a word has to fit in: the nearest element that is not an inline run of text
  const boxOf = el => { while (el !== main && ['inline', 'contents'].includes(getComputedStyle(el).display)) el = el.parentElement; return el; };
  const ruler = document.createElement('canvas').getContext('2d');
  const words = new Intl.Segmenter('zh', {granularity: 'word'});  // ICU's dictionary: 办件 编号, not 办 件 编 号
  // terms that must stay whole: dates, times (a range 9:00-17:00 may wrap between its two times),
  // and runs of letters and digits such as case numbers, codes and SHA-256
  const LATIN = /\\d{4}-\\d{2}-\\d{2}|\\d{1,2}:\\d{2}(?![\\d:])|[A-Za-z0-9][A-Za-z0-9.:@\\/_-]*[A-Za-z0-9]|[A-Za-z0-9]/g;
  const texts = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  for (let node = texts.nextNode(); node; node = texts.nextNode()) {
    const text = node.nodeValue;
    const el = node.parentElement;
    if (!text.trim() || el.closest('.visually-hidden, option, script, style, [hidden]')) continue;
    const rect = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (rect.width <= 1 || rect.height <= 1 || style.visibility === 'hidden') continue;
    const size = parseFloat(style.fontSize);
    out.minFont = Math.min(out.minFont, size);
    if (size < 23.95) out.small.push(`${name(el)} ${size}px "${text.trim().slice(0, 20)}"`);
    const box = boxOf(el);
    const bs = getComputedStyle(box);
    const room = box.clientWidth - parseFloat(bs.paddingLeft) - parseFloat(bs.paddingRight);
    ruler.font = style.font;
    const spacing = parseFloat(style.letterSpacing) || 0;
    const terms = [];
    for (const m of text.matchAll(LATIN)) {
      terms.push(m[0]);
      // a number or code that fits its box stays on one line (2026-12-02, 13:30-14:30, WB2026…)
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
      if (tops.size > 1 && ruler.measureText(m[0]).width <= room) out.split.push(`${name(el)} "${m[0]}"`);
    }
    for (const w of words.segment(text)) if (w.isWordLike && /\\p{Script=Han}/u.test(w.segment)) terms.push(w.segment);
    for (const term of terms) {
      const width = ruler.measureText(term).width + spacing * term.length;
      // a term wider than the whole column (a 64-digit hash) has to wrap; anything else must fit
      if (width > room + 1 && width <= columnWidth) {
        out.narrow.push(`${name(box)} ${Math.round(room)}px < "${term}" ${Math.round(width)}px`);
        break;
      }
    }
  }
  out.small = [...new Set(out.small)];
  out.narrow = [...new Set(out.narrow)];
  out.split = [...new Set(out.split)];
  // a table shown as cards: every value under its column's name (a cell of buttons needs none)
  out.unlabelled = [...main.querySelectorAll('table.cards > tbody > tr > td:not([data-label]):not([colspan])')]
    .filter(td => td.textContent.trim() && !td.querySelector('a, button, form'))
    .map(td => `"${td.textContent.trim().slice(0, 20)}"`);
  return out;
}"""


def phone_failures(page, endpoint: str) -> list[str]:
    """长辈模式 at 390 and 360 px: the header takes at most a quarter of the first screen, nothing
    scrolls sideways, no box is narrower than its longest word (so no case number or word is
    broken mid-term), no text in the main content is under 24 px, and the page's h1 (where its
    content starts) is on the first screen."""
    failures = []
    for width, height in PHONES:
        page.set_viewport_size({"width": width, "height": height})
        m = page.evaluate(PHONE_METRICS)
        where = f"{endpoint} at {width}×{height} (elder)"
        if m["header"] > height / 4:
            failures.append(f"{where}: header {m['header']:.0f}px > a quarter of {height}px")
        if m["scroll"] > 0:
            failures.append(f"{where}: scrolls sideways by {m['scroll']}px")
        if m["narrow"]:
            failures.append(f"{where}: narrower than their longest word: {m['narrow'][:4]}")
        if m["unlabelled"]:
            failures.append(f"{where}: card values without a data-label: {m['unlabelled'][:4]}")
        if m["split"]:
            failures.append(f"{where}: numbers broken across lines: {m['split'][:4]}")
        if m["small"]:
            failures.append(f"{where}: text under 24px: {m['small'][:4]}")
        if m["h1"] > height - 60:
            failures.append(
                f"{where}: the page's h1 starts at {m['h1']:.0f}px, off the first screen"
            )
    page.set_viewport_size({"width": 1280, "height": 900})
    return failures


def pages_for(live_app) -> list[tuple[str, str, str]]:
    """(endpoint, role, path) for every HTML page, opened by the first role allowed to."""
    result = []
    only = [p for p in os.environ.get("PAGES", "").split(",") if p]  # e.g. PAGES=counter.,queue.
    for endpoint in sorted(GET_MATRIX):
        if endpoint in NOT_PAGES or (only and not endpoint.startswith(tuple(only))):
            continue
        path, expected = GET_MATRIX[endpoint]
        role = next((r for r in ROLES if expected.get(r) == 200), None)
        if role is None:
            continue
        result.append((endpoint, role, path))
    return result


def resolve(live_app, path) -> str:
    """Paths that need an object are made just before the visit (a later one may consume it)."""
    if not callable(path):
        return path
    with live_app.app_context():
        try:
            return path()
        finally:
            db.session.remove()


def open_as(browser, base, role, elder):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    if role != "anonymous":
        browser_login(page, base, ACCOUNTS[role])
    page.goto(base + "/")
    is_elder = page.evaluate("document.documentElement.classList.contains('elder')")
    if is_elder != elder:
        toggle_elder(page)
    return context, page


@pytest.mark.parametrize("elder", [False, True], ids=["normal", "elder"])
def test_every_page_in_both_modes(browser, live, elder):
    base, live_app = live
    pages = pages_for(live_app)
    assert len(pages) >= (1 if os.environ.get("PAGES") else 10)
    wanted = tuple(p for p in os.environ.get("PAGES", "").split(",") if p)
    # case pages in the delivery states (tests/access/delivery.py)
    pages += [p for p in DELIVERY_PAGES if not wanted or p[0].startswith(wanted)]
    # a schedule import's record (tests/access/calendar.py)
    pages += [p for p in CALENDAR_PAGES if not wanted or p[0].startswith(wanted)]
    # statistics: case lists with a case in them, a filtered dashboard (tests/access/statistics.py)
    pages += [p for p in STATISTICS_PAGES if not wanted or p[0].startswith(wanted)]
    # the reviewer queue's later page and a deadline filter (tests/access/review_queue.py)
    pages += [p for p in REVIEW_QUEUE_PAGES if not wanted or p[0].startswith(wanted)]
    # 我的材料 of one material type, and a later page (tests/access/my_documents.py)
    pages += [p for p in MY_DOCUMENTS_PAGES if not wanted or p[0].startswith(wanted)]
    contexts = {}
    failures = []
    try:
        for endpoint, role, path in pages:
            path = resolve(live_app, path)
            if role not in contexts:
                contexts[role] = open_as(browser, base, role, elder)
            page = contexts[role][1]
            if endpoint in PREPARE:  # a step that needs the one before it in the same browser
                PREPARE[endpoint](page, base)
            head = page.request.get(base + path, max_redirects=0)
            if "text/html" not in head.headers.get("content-type", ""):
                continue  # a download (PDF, file): not a page
            response = page.goto(base + path)
            assert response.status == 200, (endpoint, role, path, response.status)
            failures.extend(page_failures(page, f"{endpoint} as {role}", elder))
    finally:
        for context, _page in contexts.values():
            context.close()
    assert not failures, "\n".join(failures)


def page_failures(page, endpoint: str, elder: bool) -> list[str]:
    """The checks every page passes: one h1, axe, no sideways scroll at 320 px; in elder mode
    text and target sizes, and the phone screens."""
    assert page.locator("h1").count() == 1, f"{endpoint}: one h1 per page"
    assert page.locator("main#main").count() == 1
    failures = []
    try:
        assert_accessible(page, f"{endpoint} ({'elder' if elder else 'normal'})")
    except AssertionError as exc:
        failures.append(str(exc))
    page.set_viewport_size({"width": 320, "height": 800})
    overflow = page.evaluate(OVERFLOW)
    page.set_viewport_size({"width": 1280, "height": 900})
    if overflow["by"] > 0:
        failures.append(
            f"{endpoint}: scrolls sideways by {overflow['by']}px at 320 px width: {overflow['culprits']}"
        )
    if elder:
        metrics = page.evaluate(ELDER_METRICS)
        if metrics["font"] < 24 or metrics["lineHeight"] < 1.5:
            failures.append(
                f"{endpoint}: body {metrics['font']}px, line height {metrics['lineHeight']}"
            )
        if metrics["para"] is not None and metrics["para"] < 1.3:
            failures.append(f"{endpoint}: paragraph spacing {metrics['para']:.2f} × line height")
        if metrics["small"]:
            failures.append(f"{endpoint}: targets under 60 px: {metrics['small'][:5]}")
        text = page.evaluate(PHONE_METRICS)["small"]
        if text:
            failures.append(f"{endpoint}: text under 24px at 1280 px: {text[:4]}")
        failures.extend(phone_failures(page, endpoint))
    return failures


@pytest.mark.parametrize("elder", [False, True], ids=["normal", "elder"])
def test_staff_login_steps_in_both_modes(browser, live, elder):
    """The pages of a staff login in progress (302 in the access matrix without one): a new
    colleague's new password, enrolment and recovery codes; then the authenticator step."""
    base, live_app = live
    username = new_colleague(live_app, elder_mode=elder)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    failures: list[str] = []
    try:
        if elder:
            page.goto(base + "/")
            toggle_elder(page)
        walk_first_login(
            page,
            base,
            live_app,
            username,
            check=lambda name: failures.extend(page_failures(page, name, elder)),
        )
    finally:
        context.close()
    assert not failures, "\n".join(failures)

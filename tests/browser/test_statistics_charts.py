"""The dashboard's charts as Chromium draws them: every label of every chart is drawn (the
page's script must leave SVG text alone), and the charts print."""

from datetime import timedelta

import pytest

from services import clock
from tests.browser.conftest import browser_login

pytestmark = pytest.mark.browser

UNDRAWN = """() => [...document.querySelectorAll('.chart-svg text')]
  .filter(t => t.getBBox().width === 0)
  .map(t => t.outerHTML.slice(0, 120))"""


def test_every_chart_label_is_drawn_on_screen_and_in_print(page, live_server):
    browser_login(page, live_server, "admin")
    start = clock.local_today() - timedelta(days=90)  # a trend by week: dates on the axis
    page.goto(live_server + f"/admin/statistics/?start={start.isoformat()}")
    assert page.locator(".chart-svg").count() >= 3
    # dates such as 2026-09-07 are what the page's no-break script wraps in a span elsewhere
    assert page.locator(".chart-svg text", has_text=start.isoformat()[:4] + "-").count() >= 2
    assert page.evaluate(UNDRAWN) == []
    page.emulate_media(media="print")
    assert page.locator(".stats-filters").is_hidden()
    assert page.locator(".chart-svg").first.is_visible()
    assert page.evaluate(UNDRAWN) == []

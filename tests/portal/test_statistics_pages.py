"""The statistics pages: the admins' dashboard, the reviewers' department view (their own
department, never another's), the cases behind a figure, CSV downloads (BOM, columns, Chinese,
no personal data), the filters' validation, the public performance list and the guide page's
figures (one cached lookup). Figures themselves are tested in tests/services/test_statistics*.py;
here, what the pages show of them and to whom."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from html import unescape
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from portal.charts import Chart, Series, layout_for, render_chart
from portal.extensions import db
from portal.models import Department
from portal.statistics.csv_export import csv_lines
from portal.statistics.views import bucket_days
from services import clock, workflow
from services import statistics as stats
from tests.conftest import login
from tests.workflow_cases import RESIDENCE_PERMIT, UNEMPLOYMENT, submit_case, user

BOM = b"\xef\xbb\xbf"


def department_id(code: str) -> int:
    return db.session.scalar(select(Department.id).where(Department.code == code))


def corrected_case(item: str, reviewer: str) -> tuple[int, str]:
    """A case submitted by 13800000003 and sent back for correction once: (id, number)."""
    conditions = {"basis": "work", "agent": "no"} if item == RESIDENCE_PERMIT else None
    case = submit_case("13800000003", item, conditions)
    question = case.item_version.questions[0]["key"]
    workflow.perform(
        user(reviewer),
        case.id,
        "request_correction",
        case.version,
        fields={question: "请写完整"},
    )
    db.session.commit()
    return case.id, case.number


def read_csv(response) -> list[list[str]]:
    data = response.get_data()
    assert data.startswith(BOM)
    return list(csv.reader(io.StringIO(data[len(BOM) :].decode("utf-8"))))


def main_of(html: str) -> str:
    return html.split('<main id="main"', 1)[1].split("</main>", 1)[0]


# ---- the admins' dashboard ------------------------------------------------------------------


def test_admin_dashboard_has_every_section_chart_and_csv_link(client):
    login(client, "admin")
    response = client.get("/admin/statistics/?start=2026-01-01")
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    html = response.get_data(as_text=True)
    for section in ("headline", "volume", "visits", "time", "corrections", "materials"):
        assert f'id="sec-{section}"' in html
    for words in ("跑零次率", "最多跑一次率", "按时办结率", "即办件比例", "减材料比例", "好评率"):
        assert words in html
    main = main_of(html)
    # inline SVG charts: an image with a title and a summary, and nothing the CSP refuses
    assert main.count('role="img"') >= 3
    assert 'aria-labelledby="chart-trend-title chart-trend-desc"' in main
    assert "style=" not in main and "<style" not in main and "<script" not in main
    # every table that has rows has its CSV link next to its title, with the period in it
    tables = main.count('<table class="cards stats-table')
    links = re.findall(r'<a class="csv-link" href="([^"]+)"', main)
    assert tables >= 8 and len(links) >= tables
    assert all("start=2026-01-01" in unescape(link) for link in links)


def test_admin_navigation_leads_to_the_dashboard(client):
    login(client, "admin")
    html = client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/statistics/"' in html


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("start=2026-13-01", "start", "请按“年-月-日”填写日期"),
        ("end=yesterday", "end", "请按“年-月-日”填写日期"),
        ("start=2026-03-01&end=2026-02-01", "end", "结束日期不能早于开始日期"),
        ("end=2099-01-01", "end", "结束日期不能晚于今天"),
        ("start=2001-01-01&end=2026-01-01", "start", "统计期间最长三年"),
        ("department=99999", "department", "没有这个选项"),
        ("channel=fax", "channel", "没有这个选项"),
        ("item=abc", "item", "没有这个选项"),
    ],
)
def test_bad_filters_are_explained_next_to_their_field(client, query, field, message):
    login(client, "admin")
    response = client.get(f"/admin/statistics/?{query}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    error = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', html, re.S)
    assert error and message in unescape(error.group(1)), html[:200]
    # the figures shown are for the default period, and the page says which
    today = clock.local_today()
    assert f"{stats.default_period(today).start.isoformat()} 至 {today.isoformat()}" in html


def test_filters_stay_in_the_url_of_every_link(client, query):
    police = query(lambda: department_id("GA"))
    login(client, "admin")
    html = client.get(
        f"/admin/statistics/?start=2026-01-01&end=2026-06-30&department={police}&channel=online"
    ).get_data(as_text=True)
    links = [unescape(h) for h in re.findall(r'href="(/admin/statistics/[^"]+)"', html)]
    assert links
    for link in links:
        if "/export/" in link or "/cases" in link:
            assert "start=2026-01-01" in link and "end=2026-06-30" in link, link
            assert f"department={police}" in link and "channel=online" in link, link
    assert 'value="2026-06-30"' in html  # the form shows what is in force


# ---- CSV ------------------------------------------------------------------------------------


def test_csv_is_utf8_with_bom_streamed_named_after_period_and_filters(client, query):
    police = query(lambda: department_id("GA"))
    login(client, "admin")
    response = client.get(
        f"/admin/statistics/export/visits.csv?start=2026-01-01&end=2026-11-30&department={police}"
    )
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "no-store" in response.headers["Cache-Control"]
    disposition = response.headers["Content-Disposition"]
    ascii_name = re.search(r'filename="([^"]+)"', disposition).group(1)
    assert ascii_name == "statistics-admin-visits-2026-01-01_2026-11-30.csv"
    name = unquote(re.search(r"filename\*=UTF-8''(\S+)", disposition).group(1))
    assert name.endswith(".csv") and "到场次数" in name
    assert "2026-01-01至2026-11-30" in name and "市公安局" in name
    rows = read_csv(response)
    assert rows[0] == [
        "渠道",
        "办结件",
        "跑零次",
        "跑一次",
        "跑两次",
        "三次及以上",
        "跑零次率（%）",
        "最多跑一次率（%）",
        "超过承诺次数",
    ]
    assert rows[-1][0] == "全部渠道"  # the total row, in Chinese


def test_every_dashboard_table_downloads_with_the_columns_the_page_shows(client):
    login(client, "admin")
    html = client.get("/admin/statistics/?start=2026-01-01").get_data(as_text=True)
    main = main_of(html)
    blocks = []
    for chunk in main.split('<div class="table-tools">')[1:]:
        link = re.search(r'<a class="csv-link" href="([^"]+)"', chunk)
        head = re.search(r"<thead><tr>(.*?)</tr></thead>", chunk, re.S)
        if link and head:
            blocks.append((link.group(1), head.group(1)))
    assert len(blocks) >= 8
    for href, head in blocks:
        columns = [unescape(c) for c in re.findall(r"<th[^>]*>(.*?)</th>", head)]
        response = client.get(unescape(href))
        assert response.status_code == 200, href
        header = read_csv(response)[0]
        assert [h.split("（")[0] for h in header] == [c.split("（")[0] for c in columns], href


def test_csv_neutralises_formulas():
    text = "".join(csv_lines(["事项", "件数"], [['=HYPERLINK("x")', -3], ["@SUM(A1)", 2]]))
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[1:] == [['\'=HYPERLINK("x")', "-3"], ["'@SUM(A1)", "2"]]  # numbers stay numbers


def test_case_lists_and_their_csv_hold_no_personal_data(client, query):
    case_id, number = query(lambda: corrected_case(UNEMPLOYMENT, "reviewer02"))
    citizen = query(lambda: user("13800000003").citizen)
    login(client, "admin")
    page = client.get("/admin/statistics/cases?kind=corrected")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert number in html
    rows = read_csv(client.get("/admin/statistics/export/cases.csv?kind=corrected"))
    assert any(row[0] == number for row in rows[1:])
    text = html + "\n".join(",".join(r) for r in rows)
    for personal in (citizen.name, citizen.id_number, citizen.phone, citizen.id_number[-6:]):
        assert personal not in text
    # an admin has no case page: the number is not a link to one
    assert f"/review/cases/{case_id}" not in html


# ---- the department view --------------------------------------------------------------------


def test_department_view_never_shows_another_departments_cases(client, query):
    """reviewer01 (市公安局) sees the police case, never the 人社局 one, whatever the URL asks."""
    police_case, police_number = query(lambda: corrected_case(RESIDENCE_PERMIT, "reviewer01"))
    _other_case, other_number = query(lambda: corrected_case(UNEMPLOYMENT, "reviewer02"))
    labour = query(lambda: department_id("RS"))
    login(client, "reviewer01")
    for path in (
        "/review/statistics/cases?kind=corrected",
        f"/review/statistics/cases?kind=corrected&department={labour}",
    ):
        html = client.get(path).get_data(as_text=True)
        assert police_number in html and other_number not in html, path
        assert f'href="/review/cases/{police_case}"' in html  # opened in the workspace
    rows = read_csv(
        client.get(f"/review/statistics/export/cases.csv?kind=corrected&department={labour}")
    )
    numbers = {row[0] for row in rows[1:]}
    assert police_number in numbers and other_number not in numbers
    # the figures are the department's: the same as the service's for 市公安局 alone
    police = query(lambda: department_id("GA"))
    today = query(clock.local_today)
    own = query(
        lambda: (
            stats.dashboard(
                db.session,
                stats.StatsFilter(start=today, end=today, department_id=police),
                today=today,
            ).volume.received
        )
    )
    everyone = query(
        lambda: (
            stats.dashboard(
                db.session, stats.StatsFilter(start=today, end=today), today=today
            ).volume.received
        )
    )
    assert own < everyone
    rows = read_csv(
        client.get(
            f"/review/statistics/export/volume.csv?start={today}&end={today}&department={labour}"
        )
    )
    assert rows[1] == ["收件量", str(own)]
    html = client.get(f"/review/statistics/?department={labour}").get_data(as_text=True)
    assert 'name="department"' not in html  # there is nothing to choose
    assert 'id="sec-counters"' not in html  # queue tickets carry no department
    assert "只统计本部门（市公安局）的办件" in html


def test_reviewer_navigation_and_no_admin_dashboard(client):
    login(client, "reviewer01")
    assert 'href="/review/statistics/"' in client.get("/review/").get_data(as_text=True)
    assert client.get("/admin/statistics/").status_code == 403
    assert client.get("/admin/statistics/export/visits.csv").status_code == 403


# ---- drill-down -------------------------------------------------------------------------------


def test_a_ranked_item_links_to_its_cases(client, query):
    _case_id, number = query(lambda: corrected_case(UNEMPLOYMENT, "reviewer02"))
    login(client, "admin")
    html = client.get("/admin/statistics/").get_data(as_text=True)
    section = html.split('id="table-rank_corrections-title"', 1)[1].split("</table>", 1)[0]
    link = unescape(re.search(r'<a href="([^"]+)">失业登记</a>', section).group(1))
    assert "kind=corrected" in link
    listing = client.get(link)
    assert listing.status_code == 200
    assert number in listing.get_data(as_text=True)


def test_unknown_case_list_kind_or_table_is_not_found(client):
    login(client, "admin")
    assert client.get("/admin/statistics/cases?kind=everything").status_code == 404
    assert client.get("/admin/statistics/cases").status_code == 404
    assert client.get("/admin/statistics/export/secrets.csv").status_code == 404
    assert client.get("/admin/statistics/cases?kind=corrected&page=0").status_code == 404


# ---- charts -----------------------------------------------------------------------------------


def chart(kind: str = "bar", *series: Series, percent: bool = True) -> Chart:
    return Chart(
        "c",
        kind,
        "到场次数",
        "办结 10 件。",
        ["跑零次", "跑一次", "跑两次"],
        list(series) or [Series("网上办理", [0.8, 0.15, None])],
        percent=percent,
    )


def test_bars_carry_pattern_outline_and_printed_value(app_ctx):
    svg = str(
        render_chart(
            chart("bar", Series("网上办理", [0.8, 0.15, 0.05]), Series("窗口", [0.1, 0.7, 0.2]))
        )
    )
    assert "style" not in svg and "<script" not in svg
    assert svg.count("<pattern ") == 4  # one distinct fill per series, not a colour alone
    assert 'fill="url(#c-p0)"' in svg and 'fill="url(#c-p1)"' in svg
    for value in ("80.0%", "15.0%", "5.0%", "10.0%", "70.0%", "20.0%"):
        assert f">{value}</text>" in svg
    assert '<title id="c-title">到场次数</title>' in svg and "办结 10 件。" in svg


def test_lines_differ_by_marker_and_dash_and_gaps_stay_gaps(app_ctx):
    layout = layout_for(
        chart("line", Series("收件", [3, None, 5]), Series("办结", [1, 2, 4]), percent=False)
    )
    first, second = layout.lines
    assert (first.marker, first.dash) != (second.marker, second.dash)
    assert len(first.segments) == 2 and len(second.segments) == 1  # no line across the gap
    ticks = [t.text for t in layout.texts if t.anchor == "end"]
    assert ticks == ["0", "2", "4", "6", "8"]  # whole numbers for counts
    ends = sorted(line.labels[-1].y for line in layout.lines)
    assert ends[1] - ends[0] >= layout.font  # end values never on top of each other


def test_elder_mode_draws_bigger_text_not_a_scaled_picture(app_ctx):
    normal, large = layout_for(chart()), layout_for(chart(), large=True)
    assert (normal.font, large.font) == (14, 24)
    svg = str(render_chart(chart(), large=True))
    assert 'font-size="24"' in svg and 'font-size="14"' not in svg
    width = re.search(r'<svg [^>]*width="(\d+)"[^>]*viewBox="0 0 (\d+) ', svg)
    assert width.group(1) == width.group(2)  # drawn 1:1, it scrolls rather than shrinks


# ---- public performance -----------------------------------------------------------------------


def test_performance_page_lists_items_sortable_and_searchable(client):
    response = client.get("/performance")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
    html = response.get_data(as_text=True)
    assert "办件绩效" in html and "近 12 个月" in html
    for key in ("within_promise", "typical_days", "zero_visit", "good_rate", "name"):
        assert f"sort={key}" in html
    assert "办件量不足 20 件，暂不计算比例" in html
    found = client.get("/performance?q=居住证").get_data(as_text=True)
    rows = re.findall(r'<th scope="row"><a href="/items/[^"]+">([^<]+)</a>', found)
    assert rows and all("居住证" in name for name in rows)
    assert client.get("/performance?sort=good_rate&page=999").status_code == 404
    assert client.get("/performance?sort=nonsense").status_code == 200


def test_performance_csv(client):
    response = client.get("/performance.csv?q=居住证")
    assert response.status_code == 200
    rows = read_csv(response)
    assert rows[0][:4] == ["事项编码", "事项名称", "实施部门", "办件量"]
    assert rows[1:] and all("居住证" in row[1] for row in rows[1:])
    name = unquote(response.headers["Content-Disposition"].split("UTF-8''", 1)[1])
    assert name.startswith("办件绩效-") and "居住证" in name


# ---- the guide page ---------------------------------------------------------------------------


def test_guide_page_says_the_items_figures_in_plain_words(client):
    html = client.get("/items/330100GA0001").get_data(as_text=True)
    block = html.split('id="performance-figures-title"', 1)[1].split("</section>", 1)[0]
    assert "近 12 个月" in block
    assert "办件量不足 20 件，暂不计算比例" in block or "还没有人申请" in block
    assert 'href="/performance"' in block


def test_a_warm_guide_page_asks_the_database_nothing_more_for_its_figures(
    app, client, count_queries
):
    path = "/items/330100GA0001"
    login(client, "13800000002")  # rendered for each request (an anonymous page is cached whole)
    assert client.get(path).status_code == 200  # warms the guide, the codes, the figures
    with count_queries as with_figures:
        html = client.get(path).get_data(as_text=True)
    assert "近一年的办理情况" in html
    globals_ = app.jinja_env.globals
    lookup = globals_["item_performance"]
    globals_["item_performance"] = lambda code: None  # the page without its figures
    try:
        with count_queries as without:
            html = client.get(path).get_data(as_text=True)
    finally:
        globals_["item_performance"] = lookup
    assert "近一年的办理情况" not in html
    assert len(with_figures) == len(without), "\n".join(with_figures)


def test_a_month_the_period_covers_in_part_says_how_many_of_its_days_it_holds(app_ctx):
    """A year ending on the 1st has a one-day month at its end: its counts are not a fall."""
    start, end = date(2025, 12, 2), date(2026, 12, 1)
    days = [
        stats.DayRow(start + timedelta(days=k), 1, 1, 1, 1, 1, 1, 1)
        for k in range((end - start).days + 1)
    ]
    title, buckets = bucket_days(days, start, end)
    assert title == "按月" and len(buckets) == 13
    assert buckets[0].day == "2025-12（仅 30 天）" and buckets[0].received == 30
    assert buckets[-1].day == "2026-12（仅 1 天）" and buckets[-1].received == 1
    assert [b.day for b in buckets[1:-1]] == [f"2026-{m:02d}" for m in range(1, 12)]
    assert buckets[2].received == 28  # February 2026 is whole
    # half a year by week: the first and last weeks are cut by the period, the rest whole
    start, end = date(2026, 6, 3), date(2026, 11, 30)  # a Wednesday to a Monday
    days = [
        stats.DayRow(start + timedelta(days=k), 1, 1, 1, 1, 1, 1, 1)
        for k in range((end - start).days + 1)
    ]
    title, buckets = bucket_days(days, start, end)
    assert buckets[0].day == "2026-06-01（仅 5 天）" and buckets[-1].day == "2026-11-30（仅 1 天）"
    assert all("仅" not in b.day for b in buckets[1:-1])


def test_end_values_near_zero_stay_above_the_month_labels(app_ctx):
    """Two lines ending at 0 and 1 (a period's one-day last month): their end values are
    spread upwards, apart, and none reaches the category labels under the axis."""
    layout = layout_for(
        chart("line", Series("收件", [60, 70, 3]), Series("办结", [55, 68, 1]), percent=False)
    )
    axis = max(rule[1] for rule in layout.rules)  # the x axis is the lowest rule
    ends = sorted(line.labels[-1].y for line in layout.lines)
    assert ends[1] - ends[0] >= layout.font
    assert ends[1] <= axis + layout.font * 0.35
    months = [t.y for t in layout.texts if t.text in layout.chart.categories]
    assert months and min(months) - ends[1] >= layout.font

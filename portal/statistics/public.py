"""Public performance (办件绩效): every item's last-12-month figures in plain words, on its
guide page and in one list everyone can sort, search and download.

The figures are the statistics service's per-day cache (``stats.item_figures``): the guide
page, a hot path, adds one lookup in that cache and no query once it is warm. Sorting and
searching work on the cached list of items (a few thousand rows at most), never on cases. An
item with fewer than ``stats.MIN_CASES_FOR_SHARES`` cases shows its count and says it has too
few cases for a percentage.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _

from forms.statistics import SORT_LABELS, PerformanceSearchForm
from portal.caching import public_page
from portal.extensions import db
from portal.params import parse_int
from portal.statistics import public_bp
from portal.statistics.csv_export import csv_response, download_name
from portal.statistics.tables import share_text
from services import cache, catalogue_query, clock, report_choices
from services import statistics as stats

PER_PAGE = 30
DAY_SECONDS = 26 * 3600  # a day's map outlives its day a little; the key names the day
# larger is better for every figure but the typical time (and the name, sorted A→Z)
ASCENDING = {"typical_days", "name"}


@dataclass(frozen=True)
class PerformanceRow:
    """A published item and its figures (None: no case in the 12 months)."""

    item: report_choices.PublishedItem
    figures: stats.ItemFigures | None

    @property
    def cases(self) -> int:
        return self.figures.cases if self.figures else 0

    @property
    def enough(self) -> bool:
        return bool(self.figures and self.figures.enough)

    def value(self, name: str) -> float | None:
        return getattr(self.figures, name) if self.figures else None


@dataclass(frozen=True)
class GuideFigures:
    figures: stats.ItemFigures | None  # None: no case in the 12 months


def item_performance(code: str) -> GuideFigures | None:
    """The guide page's figures (template global): the item's id from the day's map of codes
    and its figures from the day's cache, so a warm guide page asks the database nothing more.
    An item published today is not in the day's map: it has no cases to show yet."""
    today = clock.local_today()
    item_id = cache.get_or_set(
        f"statistics:item_ids:{today.isoformat()}",
        lambda: {i.code: i.id for i in report_choices.published_items()},
        ttl=DAY_SECONDS,
    ).get(code)
    if item_id is None:
        return None
    return GuideFigures(stats.item_figures(db.session, [item_id], today).get(item_id))


def days_text(days: float | None) -> str:
    if days is None:
        return "—"
    return _("%(n)s 个工作日", n=f"{days:.0f}" if days == int(days) else f"{days:.1f}")


def _sort_key(sort: str):
    def key(row: PerformanceRow):
        if sort == "name":
            return (0, row.item.name)
        value = row.cases if sort == "cases" else row.value(sort)
        if value is None:
            return (1, 0.0)  # no figure: last, whichever way
        return (0, value if sort in ASCENDING else -value)

    return key


def performance_rows(query: str, sort: str) -> list[PerformanceRow]:
    figures = stats.item_figures(db.session, None, clock.local_today())
    rows = [PerformanceRow(i, figures.get(i.id)) for i in report_choices.published_items()]
    wanted = catalogue_query.clean_query(query).casefold()
    if wanted:
        rows = [
            r for r in rows if wanted in r.item.name.casefold() or wanted in r.item.code.casefold()
        ]
    order = _sort_key(sort)
    return sorted(rows, key=lambda r: (*order(r), r.item.code))


@public_bp.route("/performance")
@public_page
def index():
    form = PerformanceSearchForm(formdata=request.args)
    sort = request.args.get("sort", "cases")
    if sort not in SORT_LABELS:
        sort = "cases"
    page = parse_int(request.args.get("page", "") or "1", lo=1, hi=10_000)
    if page is None:
        abort(404)
    rows = performance_rows(form.q.data or "", sort)
    pages = max(1, -(-len(rows) // PER_PAGE))
    if page > pages:
        abort(404)
    start, end = stats.last_12_months(clock.local_today())
    args = {"q": form.q.data} if form.q.data else {}
    return render_template(
        "statistics/performance.html",
        form=form,
        rows=rows[(page - 1) * PER_PAGE : page * PER_PAGE],
        total=len(rows),
        sort=sort,
        sorts=SORT_LABELS,
        page=page,
        pages=pages,
        start=start,
        end=end,
        minimum=stats.MIN_CASES_FOR_SHARES,
        sort_url=lambda key: url_for("performance.index", **{**args, "sort": key}),
        page_url=lambda n: url_for("performance.index", **{**args, "sort": sort, "page": n}),
        csv_url=url_for("performance.export", **{**args, "sort": sort}),
        share_text=share_text,
        days_text=days_text,
    )


@public_bp.route("/performance.csv")
def export():
    form = PerformanceSearchForm(formdata=request.args)
    sort = request.args.get("sort", "cases")
    if sort not in SORT_LABELS:
        sort = "cases"
    rows = performance_rows(form.q.data or "", sort)
    start, end = stats.last_12_months(clock.local_today())

    def pct(value: float | None) -> object:
        return "" if value is None else round(value * 100, 1)

    header = [
        _("事项编码"),
        _("事项名称"),
        _("实施部门"),
        _("办件量"),
        _("按时办结比例（%）"),
        _("一般用时（工作日）"),
        _("跑零次比例（%）"),
        _("好评率（%）"),
        _("说明"),
    ]
    lines = (
        (
            r.item.code,
            r.item.name,
            r.item.department_name,
            r.cases,
            pct(r.value("within_promise")),
            "" if r.value("typical_days") is None else round(r.value("typical_days"), 1),
            pct(r.value("zero_visit")),
            pct(r.value("good_rate")),
            "" if r.enough else _("办件量不足 %(n)d 件，不计算比例", n=stats.MIN_CASES_FOR_SHARES),
        )
        for r in rows
    )
    name = download_name(
        [
            _("办件绩效"),
            _("%(start)s 至 %(end)s", start=start.isoformat(), end=end.isoformat()),
            form.q.data or "",
        ]
    )
    fallback = f"performance-{start.isoformat()}_{end.isoformat()}.csv"
    return csv_response(name, fallback, header, lines)


public_bp.add_app_template_global(item_performance, "item_performance")
public_bp.add_app_template_global(stats.MIN_CASES_FOR_SHARES, "performance_minimum_cases")

"""The dashboard (admins: every department; reviewers: their own department only), the list of
cases behind a figure, and every table as CSV. Thin: read the filters, call the statistics
service, lay out its answer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.extensions import db
from portal.params import parse_int
from portal.statistics import admin_bp, department_bp
from portal.statistics import tables as t
from portal.statistics.csv_export import csv_response, download_name
from portal.statistics.filters import Filters, read_filters
from portal.statistics.views import bucket_days, dashboard_charts, headlines
from portal.templating import elder_mode_active
from services import clock
from services import statistics as stats

admin_bp.add_app_template_global(t.cell_text, "stats_cell")

CASES_PER_PAGE = 50
CSV_PAGE = 500  # a long case list is read and written 500 rows at a time
CSV_MAX_ROWS = 100_000


@dataclass(frozen=True)
class Scope:
    """Whose figures: ``department_id`` None for an admin (every department, or the one the
    filter chooses), the reviewer's own department otherwise."""

    blueprint: str
    prefix: str  # the views are <prefix>_dashboard, <prefix>_cases, <prefix>_export
    department_id: int | None
    title: str

    def url(self, view: str, **args) -> str:
        return url_for(f"{self.blueprint}.{self.prefix}_{view}", **args)

    def case_url(self, row: stats.CaseRow) -> str | None:
        """A reviewer opens the case in the workspace (their department's, by the service's
        rule); an admin has no case page, so the number is plain text."""
        if self.department_id is None:
            return None
        return url_for("review.case", case_id=row.application_id)


def admin_scope() -> Scope:
    return Scope("statistics_admin", "admin", None, _("统计分析"))


def department_scope() -> Scope:
    if current_user.department_id is None:  # a reviewer without a department sees nothing
        abort(403)
    return Scope("statistics_department", "department", current_user.department_id, _("本部门统计"))


def _filters(scope: Scope) -> Filters:
    return read_filters(clock.local_today(), department_id=scope.department_id)


def _case_filter(kind: str | None, item: int | None) -> stats.CaseFilter:
    if kind not in t.CASE_LIST_TITLES:
        abort(404)
    return stats.CaseFilter(kind=kind, item_id=item)


# ---- the dashboard -------------------------------------------------------------------------


def _dashboard_tables(
    scope: Scope, filters: Filters, board, rankings, *, for_csv: bool = False
) -> tuple[dict[str, t.Table], list]:
    args = filters.filter.query_args()

    def ranked_url(r: stats.RankedItem) -> str:
        # the item's department too: the item filter then lists that department's items
        department = {"department": str(r.department_id)} if scope.department_id is None else {}
        return scope.url("cases", **{**args, **department, **r.case_filter.query_args()})

    trend_title, buckets = bucket_days(board.daily, filters.filter.start, filters.filter.end)
    tables = {
        "volume": t.volume_table(board),
        "daily": t.daily_table(buckets, _("办件走势（%(how)s）", how=trend_title)),
        "visits": t.visits_table(board),
        "timeliness": t.timeliness_table(board),
        "compression": t.compression_table(board, limit=None if for_csv else 20),
        "corrections": t.corrections_table(board),
        "materials": t.materials_table(board),
        "ratings": t.ratings_table(board),
        "counters": t.counters_table(board),
    }
    for key in t.RANKINGS if rankings is not None else ():
        tables[f"rank_{key}"] = t.ranking_table(key, getattr(rankings, key), ranked_url)
    return tables, buckets


def _load(filters: Filters, *, rankings: bool = True):
    """The dashboard and the rankings: one call, which counts the period's live days once.
    The cases behind a figure are listed on their own page (a list of cases costs more than
    every figure of the year together)."""
    today = clock.local_today()
    if not rankings:
        return stats.dashboard(db.session, filters.filter, today=today), None
    return stats.dashboard_and_rankings(db.session, filters.filter, today=today, limit=10)


def dashboard_page(scope: Scope):
    filters = _filters(scope)
    board, rankings = _load(filters)
    tables, buckets = _dashboard_tables(scope, filters, board, rankings)
    args = filters.filter.query_args()
    return render_template(
        "statistics/dashboard.html",
        scope=scope,
        filters=filters,
        form=filters.form,
        board=board,
        tables=tables,
        headlines=headlines(board),
        charts=dashboard_charts(board, buckets, elder_mode_active()),
        over_url=scope.url("cases", **args, kind="over_promised_visits"),
        over_csv_url=scope.url("export", table="cases", **args, kind="over_promised_visits"),
        csv_url=lambda key: scope.url("export", table=key, **args),
        with_department=scope.department_id is None,
    ), (200 if filters.valid else 400)


@admin_bp.route("/")
def admin_dashboard():
    return dashboard_page(admin_scope())


@department_bp.route("/")
def department_dashboard():
    return dashboard_page(department_scope())


# ---- the cases behind a figure ---------------------------------------------------------------


def cases_page(scope: Scope):
    filters = _filters(scope)
    case_filter = _case_filter(request.args.get("kind"), parse_int(request.args.get("item", "")))
    page = parse_int(request.args.get("page", "") or "1", lo=1, hi=10_000)
    if page is None:
        abort(404)
    listing = stats.list_cases(
        db.session,
        filters.filter,
        case_filter,
        today=clock.local_today(),
        limit=CASES_PER_PAGE,
        offset=(page - 1) * CASES_PER_PAGE,
    )
    title = str(t.CASE_LIST_TITLES[case_filter.kind])
    table = t.Table(
        "cases",
        title,
        t.CASE_COLUMNS,
        [t.case_cells(row, scope.case_url(row)) for row in listing.rows],
        row_header=False,
        css_class="case-table",
    )
    args = {**filters.filter.query_args(), **case_filter.query_args()}
    pages = max(1, -(-listing.total // CASES_PER_PAGE))
    return render_template(
        "statistics/cases.html",
        scope=scope,
        filters=filters,
        title=title,
        table=table,
        listing=listing,
        page=page,
        pages=pages,
        page_url=lambda n: scope.url("cases", **{**args, "page": n}),
        csv_url=scope.url("export", table="cases", **args),
        back_url=scope.url("dashboard", **filters.filter.query_args()),
    ), (200 if filters.valid else 400)


@admin_bp.route("/cases")
def admin_cases():
    return cases_page(admin_scope())


@department_bp.route("/cases")
def department_cases():
    return cases_page(department_scope())


# ---- CSV -----------------------------------------------------------------------------------


def _case_rows(scope: Scope, filters: Filters, case_filter: stats.CaseFilter) -> Iterator[tuple]:
    """Every case of the list, read page by page while the download is written."""
    today = clock.local_today()
    offset = 0
    while offset < CSV_MAX_ROWS:
        listing = stats.list_cases(
            db.session, filters.filter, case_filter, today=today, limit=CSV_PAGE, offset=offset
        )
        for row in listing.rows:
            yield tuple(
                t.csv_value(v, c.kind)
                for v, c in zip(t.case_cells(row, None), t.CASE_COLUMNS, strict=True)
            )
        offset += CSV_PAGE
        if offset >= listing.total or not listing.rows:
            return


def export(scope: Scope, table: str):
    filters = _filters(scope)
    if not filters.valid:
        abort(400)
    if table in ("cases", "over_promise"):
        kind = "over_promised_visits" if table == "over_promise" else request.args.get("kind")
        case_filter = _case_filter(kind, parse_int(request.args.get("item", "")))
        title = str(t.CASE_LIST_TITLES[case_filter.kind])
        header = [c.csv_label for c in t.CASE_COLUMNS]
        rows = _case_rows(scope, filters, case_filter)
    else:
        board, rankings = _load(filters, rankings=table.startswith("rank_"))
        tables, _buckets = _dashboard_tables(scope, filters, board, rankings, for_csv=True)
        if table not in tables:
            abort(404)
        chosen = tables[table]
        rows = (
            tuple(t.csv_value(v, c.kind) for v, c in zip(row, chosen.columns, strict=True))
            for row in chosen.rows
        )
        title = chosen.title
        header = [c.csv_label for c in chosen.columns]
    name = download_name([_("统计"), scope.title, title, *filters.describe()])
    f = filters.filter
    fallback = f"statistics-{scope.prefix}-{table}-{f.start.isoformat()}_{f.end.isoformat()}.csv"
    return csv_response(name, fallback, header, rows)


@admin_bp.route("/export/<table>.csv")
def admin_export(table: str):
    return export(admin_scope(), table)


@department_bp.route("/export/<table>.csv")
def department_export(table: str):
    return export(department_scope(), table)

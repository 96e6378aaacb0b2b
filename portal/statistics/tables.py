"""The dashboard's tables, defined once for the page and for its CSV downloads.

A table is a title, typed columns and rows of raw values (counts, shares between 0 and 1,
working days, minutes, dates, text). The page prints each value with ``cell_text`` and the CSV
writes ``csv_value``, so the download has exactly the columns and rows the page shows. Rows hold
no personal data: the services return none (case numbers, item and department names, counts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from forms.statistics import CHANNEL_LABELS
from services import statistics as stats
from services.case_states import state_label

SCORE_LABELS = {
    5: _l("非常满意"),
    4: _l("满意"),
    3: _l("基本满意"),
    2: _l("不满意"),
    1: _l("非常不满意"),
}
SOURCE_LABELS = {
    "shared": _l("数据共享"),
    "elicence": _l("电子证照"),
    "library": _l("材料库复用"),
    "commitment": _l("告知承诺免交"),
}
CASE_LIST_TITLES = {
    "over_promised_visits": _l("超过指南承诺到场次数的办件"),
    "over_one_visit": _l("到现场两次及以上的办件"),
    "overdue": _l("超期的办件"),
    "corrected": _l("经过补正的办件"),
    "bad_rating": _l("收到差评的办件"),
}


@dataclass(frozen=True)
class Link:
    """A cell that links somewhere on the page (its text alone goes into the CSV)."""

    text: str
    url: str | None


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = "int"  # int | share | days | minutes | number | text | date | link
    numeric: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "numeric", self.kind in ("int", "share", "days", "minutes", "number")
        )

    @property
    def csv_label(self) -> str:
        unit = {"share": "（%）", "days": _("（工作日）"), "minutes": _("（分钟）")}.get(self.kind)
        return f"{self.label}{unit}" if unit and unit not in str(self.label) else str(self.label)


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: Iterable[Sequence[object]]
    note: str = ""
    row_header: bool = True  # the first cell names its row
    css_class: str = ""


def channel_label(channel: str | None) -> str:
    return _("全部渠道") if channel is None else str(CHANNEL_LABELS.get(channel, channel))


def share_text(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def cell_text(value: object, kind: str) -> str:
    """How the page prints a value."""
    if value is None:
        return "—"
    if isinstance(value, Link):
        return value.text
    if kind == "share":
        return share_text(float(value))  # type: ignore[arg-type]
    if kind in ("days", "minutes", "number"):
        number = float(value)  # type: ignore[arg-type]
        return f"{number:,.0f}" if number == int(number) else f"{number:,.1f}"
    if kind == "int":
        return f"{int(value):,}"  # type: ignore[call-overload]
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def csv_value(value: object, kind: str) -> object:
    """How the CSV writes a value: numbers as numbers (a share as a percentage number)."""
    if value is None:
        return ""
    if isinstance(value, Link):
        return value.text
    if kind == "share":
        return round(float(value) * 100, 1)  # type: ignore[arg-type]
    if kind in ("days", "minutes", "number"):
        return round(float(value), 1)  # type: ignore[arg-type]
    if isinstance(value, date):
        return value.isoformat()
    if kind == "int":
        return int(value)  # type: ignore[call-overload]
    return str(value)


# ---- the dashboard's tables ---------------------------------------------------------------


def volume_table(board: stats.Dashboard) -> Table:
    v = board.volume
    return Table(
        "volume",
        _("收件、受理与办结"),
        [Column(_("指标"), "text"), Column(_("件数"))],
        [
            (_("收件量"), v.received),
            (_("受理量"), v.accepted),
            (_("不予受理"), v.not_accepted),
            (_("办结量"), v.completed),
            (_("不予许可"), v.denied),
            (_("撤回"), v.withdrawn),
            (_("在办件（当前）"), v.open_now),
            (_("超期在办件（当前）"), v.overdue_now),
        ],
        note=_("收件、受理、办结等按发生的日期计入统计期间；在办件和超期在办件是此刻的数字。"),
    )


def visits_table(board: stats.Dashboard) -> Table:
    return Table(
        "visits",
        _("办结件的到场次数（按渠道）"),
        [
            Column(_("渠道"), "text"),
            Column(_("办结件")),
            Column(_("跑零次")),
            Column(_("跑一次")),
            Column(_("跑两次")),
            Column(_("三次及以上")),
            Column(_("跑零次率"), "share"),
            Column(_("最多跑一次率"), "share"),
            Column(_("超过承诺次数")),
        ],
        [
            (
                channel_label(r.channel),
                r.completed,
                r.zero,
                r.one,
                r.two,
                r.three_plus,
                r.share_zero,
                r.share_at_most_one,
                r.over_promise,
            )
            for r in board.visits
        ],
        note=_("到场次数包括到窗口递交、补正、核验原件和领取结果的每一次。"),
    )


def timeliness_table(board: stats.Dashboard) -> Table:
    t = board.timeliness
    return Table(
        "timeliness",
        _("时效指标"),
        [Column(_("指标"), "text"), Column(_("数值"), "text")],
        [
            (_("作出决定的办件"), cell_text(t.decided, "int")),
            (_("按时办结率"), share_text(t.on_time_rate)),
            (_("办理时长中位数（工作日）"), cell_text(t.median_days, "days")),
            (_("办理时长90分位（工作日）"), cell_text(t.p90_days, "days")),
            (_("即办件比例"), share_text(t.instant_share)),
            (_("秒批比例"), share_text(t.auto_share)),
        ],
        note=_("按时：在承诺办结期限当天或之前作出决定。办理时长从受理到决定，按工作日计。"),
    )


def compression_table(board: stats.Dashboard, limit: int | None = None) -> Table:
    """Per item, the least compressed first (no ratio last); ``limit`` rows on the page, all
    of them in the CSV."""
    units = {"working": _("工作日"), "natural": _("自然日")}
    return Table(
        "compression",
        _("承诺时限压缩比（按事项）"),
        [
            Column(_("事项"), "text"),
            Column(_("部门"), "text"),
            Column(_("法定时限"), "text"),
            Column(_("承诺时限"), "text"),
            Column(_("压缩比"), "share"),
        ],
        [
            (
                c.item_name,
                c.department_name,
                "—" if c.legal_limit is None else f"{c.legal_limit} {units.get(c.unit, c.unit)}",
                "—"
                if c.promised_limit is None
                else f"{c.promised_limit} {units.get(c.unit, c.unit)}",
                c.ratio,
            )
            for c in sorted(
                board.timeliness.compression,
                key=lambda c: (c.ratio is None, c.ratio or 0, c.item_name),
            )[:limit]
        ],
        note=_("压缩比 = 1 − 承诺时限 ÷ 法定时限。")
        if limit is None or len(board.timeliness.compression) <= limit
        else _(
            "压缩比 = 1 − 承诺时限 ÷ 法定时限。这里列出压缩比最低的 %(n)d 个事项，"
            "全部 %(total)d 个见 CSV。",
            n=limit,
            total=len(board.timeliness.compression),
        ),
    )


def corrections_table(board: stats.Dashboard) -> Table:
    c = board.corrections
    return Table(
        "corrections",
        _("补正、容缺受理、告知承诺与核查"),
        [Column(_("指标"), "text"), Column(_("数值"), "text")],
        [
            (_("收件量"), cell_text(c.received, "int")),
            (_("经过补正的办件"), cell_text(c.corrected_cases, "int")),
            (_("补正总次数"), cell_text(c.rounds, "int")),
            (_("平均补正次数（每件）"), cell_text(c.rounds_per_case, "number")),
            (_("补正例外"), cell_text(c.exceptions, "int")),
            (_("容缺受理"), cell_text(c.deferred, "int")),
            (_("告知承诺"), cell_text(c.commitment, "int")),
            (_("待核查"), cell_text(c.post_checks_open, "int")),
            (_("核查属实"), cell_text(c.post_checks_passed, "int")),
            (_("核查不实"), cell_text(c.post_checks_false, "int")),
        ],
    )


def materials_table(board: stats.Dashboard) -> Table:
    def row(label: str, m: stats.MaterialShare) -> tuple:
        return (
            label,
            m.required,
            m.not_uploaded,
            m.share,
            *(m.by_source.get(key, 0) for key in SOURCE_LABELS),
        )

    return Table(
        "materials",
        _("应交材料与不用上传的材料"),
        [
            Column(_("申请人"), "text"),
            Column(_("应交材料")),
            Column(_("不用上传")),
            Column(_("减材料比例"), "share"),
            *(Column(str(label)) for label in SOURCE_LABELS.values()),
        ],
        [
            row(_("全部申请人"), board.materials.all),
            row(_("再次办事的申请人"), board.materials.returning),
        ],
        note=_("再次办事的申请人：此前已有办结的办件。不用上传的材料按取得方式分列。"),
    )


def ratings_table(board: stats.Dashboard) -> Table:
    r = board.ratings
    return Table(
        "ratings",
        _("好差评分布"),
        [Column(_("评价"), "text"), Column(_("条数")), Column(_("占比"), "share")],
        [
            (
                str(SCORE_LABELS[score]),
                r.distribution.get(score, 0),
                (r.distribution.get(score, 0) / r.count) if r.count else None,
            )
            for score in (5, 4, 3, 2, 1)
        ],
        note=_("好评：非常满意、满意、基本满意；差评：不满意、非常不满意，每条差评都有整改单。"),
    )


def counters_table(board: stats.Dashboard) -> Table:
    return Table(
        "counters",
        _("各大厅、各业务类别的取号与等候"),
        [
            Column(_("服务大厅"), "text"),
            Column(_("业务类别"), "text"),
            Column(_("取号")),
            Column(_("已办理")),
            Column(_("过号及爽约")),
            Column(_("等候中位数"), "minutes"),
            Column(_("等候90分位"), "minutes"),
            Column(_("办理中位数"), "minutes"),
            Column(_("办理90分位"), "minutes"),
            Column(_("每小时取号"), "number"),
        ],
        [
            (
                q.hall_name or _("全部大厅"),
                q.category_name or _("全部类别"),
                q.tickets,
                q.served,
                q.no_shows,
                q.wait_median,
                q.wait_p90,
                q.service_median,
                q.service_p90,
                q.tickets_per_hour,
            )
            for q in board.counters
        ],
        note=_("等候：取号到叫号；办理：叫号到办完；单位为分钟。"),
    )


def daily_table(buckets: Sequence[stats.DayRow], title: str) -> Table:
    return Table(
        "daily",
        title,
        [
            Column(_("日期"), "text"),
            Column(_("收件")),
            Column(_("办结")),
            Column(_("跑零次")),
            Column(_("作出决定")),
            Column(_("按时")),
            Column(_("评价")),
            Column(_("好评")),
        ],
        [
            (
                r.day.isoformat() if isinstance(r.day, date) else r.day,
                r.received,
                r.completed,
                r.zero_visit,
                r.decided,
                r.on_time,
                r.ratings,
                r.good_ratings,
            )
            for r in buckets
        ],
    )


RANKINGS = {
    "over_one_visit": (_l("到现场两次及以上最多的事项"), _l("两次及以上"), "int"),
    "overdue": (_l("超期最多的事项"), _l("超期件数"), "int"),
    "corrections": (_l("补正最多的事项"), _l("补正次数"), "int"),
    "worst_ratings": (_l("评价最低的事项"), _l("平均评分"), "number"),
}


def ranking_table(
    key: str, items: list[stats.RankedItem], case_url: Callable[[stats.RankedItem], str | None]
) -> Table:
    title, value_label, kind = RANKINGS[key]
    return Table(
        f"rank_{key}",
        str(title),
        [
            Column(_("名次"), "int"),
            Column(_("事项"), "link"),
            Column(_("部门"), "text"),
            Column(str(value_label), kind),
            Column(_("涉及办件"), "int"),
        ],
        [
            (n, Link(r.item_name, case_url(r)), r.department_name, r.value, r.cases)
            for n, r in enumerate(items, start=1)
        ],
        row_header=False,
        css_class="ranking-table",
    )


CASE_COLUMNS = [
    Column(_l("办件编号"), "link"),
    Column(_l("事项"), "text"),
    Column(_l("部门"), "text"),
    Column(_l("渠道"), "text"),
    Column(_l("状态"), "text"),
    Column(_l("收件日期"), "date"),
    Column(_l("决定日期"), "date"),
    Column(_l("办结期限"), "date"),
    Column(_l("到场次数"), "int"),
    Column(_l("指南承诺次数"), "int"),
    Column(_l("多跑的原因"), "text"),
    Column(_l("补正次数"), "int"),
    Column(_l("最低评分"), "int"),
]


def case_cells(row: stats.CaseRow, url: str | None) -> tuple:
    return (
        Link(row.number, url),
        row.item_name,
        row.department_name,
        channel_label(row.channel),
        state_label(row.status),
        row.received_on,
        row.decided_on,
        row.due_date,
        row.visits,
        row.promised_visits,
        _("；").join(row.visit_reasons) if row.visit_reasons else "",
        row.correction_rounds,
        row.worst_rating,
    )

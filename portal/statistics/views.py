"""What the dashboard shows, built from the service's answer: headline figures, charts with
their text summaries, and the tables (portal/statistics/tables.py)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _

from portal.charts import Chart, Series, render_chart
from portal.statistics import tables as t
from services import statistics as stats


@dataclass(frozen=True)
class Bucket:
    """Days added up for a trend: one day, one week (from its Monday) or one month."""

    day: str  # the label
    received: int
    completed: int
    zero_visit: int
    decided: int
    on_time: int
    ratings: int
    good_ratings: int


def bucket_days(days: list[stats.DayRow], start: date, end: date) -> tuple[str, list[Bucket]]:
    """Up to two months by day, up to half a year by week, longer by month (a chart of a
    year has twelve points). Adds up at most a few hundred day rows, never cases. A week or
    month the period covers only in part says how many of its days are in it, so that its
    small counts (and a share of 100% of three cases) are not read as a fall."""
    span = (end - start).days + 1
    if span <= 62:
        title, key = _("按日"), (lambda d: d.isoformat())
        size = lambda d: 1  # noqa: E731
    elif span <= 190:
        title = _("按周（从周一起）")
        key = lambda d: (d - timedelta(days=d.weekday())).isoformat()  # noqa: E731
        size = lambda d: 7  # noqa: E731
    else:
        title, key = _("按月"), (lambda d: d.strftime("%Y-%m"))
        size = lambda d: calendar.monthrange(d.year, d.month)[1]  # noqa: E731
    sums: dict[str, list[int]] = {}
    covered: dict[str, list[int]] = {}  # label -> [days in the period, days of the bucket]
    for row in days:
        values = (
            row.received,
            row.completed,
            row.zero_visit,
            row.decided,
            row.on_time,
            row.ratings,
            row.good_ratings,
        )
        label = key(row.day)
        bucket = sums.setdefault(label, [0] * 7)
        for i, v in enumerate(values):
            bucket[i] += v
        covered.setdefault(label, [0, size(row.day)])[0] += 1
    buckets = []
    for label, values in sums.items():
        n, full = covered[label]
        if n < full:
            label = _("%(label)s（仅 %(n)d 天）", label=label, n=n)
        buckets.append(Bucket(label, *values))
    return title, buckets


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def pct(value: float | None) -> str:
    return t.share_text(value)


def dashboard_charts(board: stats.Dashboard, buckets: list[Bucket], large: bool) -> dict:
    """The dashboard's charts, each with a summary in words, drawn for the reader's mode."""
    charts = {}
    total = next((r for r in board.visits if r.channel is None), None)
    labels = [b.day for b in buckets]
    if buckets:
        received = sum(b.received for b in buckets)
        completed = sum(b.completed for b in buckets)
        charts["trend"] = Chart(
            "chart-trend",
            "line",
            _("收件量和办结量的走势"),
            _(
                "统计期间共收件 %(received)d 件、办结 %(completed)d 件；"
                "最多的一段收件 %(peak)d 件。",
                received=received,
                completed=completed,
                peak=max(b.received for b in buckets),
            ),
            labels,
            [
                Series(_("收件"), [b.received for b in buckets]),
                Series(_("办结"), [b.completed for b in buckets]),
            ],
            unit=_("件"),
        )
        charts["promise"] = Chart(
            "chart-promise",
            "line",
            _("跑零次率和按时办结率的走势"),
            _(
                "跑零次率 %(zero)s，按时办结率 %(on_time)s（整个统计期间）；"
                "没有办结或决定的时段不画点。",
                zero=pct(total.share_zero if total else None),
                on_time=pct(board.timeliness.on_time_rate),
            ),
            labels,
            [
                Series(_("跑零次率"), [_share(b.zero_visit, b.completed) for b in buckets]),
                Series(_("按时办结率"), [_share(b.on_time, b.decided) for b in buckets]),
            ],
            percent=True,
        )
    rows = [r for r in board.visits if r.completed] or [
        r for r in board.visits if r.channel is None
    ]
    if total and total.completed:
        channels = [r for r in rows if r.channel is not None][:3]
        # one channel: its row is the total, drawn once
        series_rows = channels if len(channels) == 1 else [*channels, total]
        charts["visits"] = Chart(
            "chart-visits",
            "bar",
            _("办结件的到场次数分布"),
            _(
                "办结 %(n)d 件：跑零次 %(zero)d 件（%(zero_share)s），"
                "最多跑一次 %(most)s，跑两次及以上 %(more)d 件。",
                n=total.completed,
                zero=total.zero,
                zero_share=pct(total.share_zero),
                most=pct(total.share_at_most_one),
                more=total.two + total.three_plus,
            ),
            [_("跑零次"), _("跑一次"), _("跑两次"), _("三次及以上")],
            [
                Series(
                    t.channel_label(r.channel),
                    [_share(v, r.completed) for v in (r.zero, r.one, r.two, r.three_plus)],
                )
                for r in series_rows
            ],
            percent=True,
        )
    m = board.materials
    if m.all.required:
        charts["materials"] = Chart(
            "chart-materials",
            "bar",
            _("减材料：不用上传的材料占应交材料的比例"),
            _(
                "全部申请人 %(all)s，再次办事的申请人 %(returning)s。",
                all=pct(m.all.share),
                returning=pct(m.returning.share),
            ),
            [_("合计"), *(str(label) for label in t.SOURCE_LABELS.values())],
            [
                Series(
                    name,
                    [
                        share.share,
                        *(
                            _share(share.by_source.get(k, 0), share.required)
                            for k in t.SOURCE_LABELS
                        ),
                    ],
                )
                for name, share in ((_("全部申请人"), m.all), (_("再次办事的申请人"), m.returning))
            ],
            percent=True,
        )
    r = board.ratings
    if r.count:
        charts["ratings"] = Chart(
            "chart-ratings",
            "bar",
            _("好差评分布"),
            _(
                "共 %(n)d 条评价，好评率 %(good)s，平均 %(avg).1f 分（满分 5 分）。",
                n=r.count,
                good=pct(r.good_rate),
                avg=r.average or 0,
            ),
            [str(t.SCORE_LABELS[s]) for s in (5, 4, 3, 2, 1)],
            [Series(_("评价条数"), [r.distribution.get(s, 0) for s in (5, 4, 3, 2, 1)])],
            unit=_("条"),
        )
    return {key: render_chart(chart, large) for key, chart in charts.items()}


@dataclass(frozen=True)
class Headline:
    label: str
    value: str
    note: str


def headlines(board: stats.Dashboard) -> list[Headline]:
    """The figures a city reports, at the top of the dashboard."""
    total = next((r for r in board.visits if r.channel is None), None)
    tl = board.timeliness
    return [
        Headline(
            _("跑零次率"),
            pct(total.share_zero if total else None),
            _("办结 %(n)d 件中 %(k)d 件", n=total.completed, k=total.zero) if total else "",
        ),
        Headline(
            _("最多跑一次率"),
            pct(total.share_at_most_one if total else None),
            _("超过指南承诺次数 %(n)d 件", n=total.over_promise) if total else "",
        ),
        Headline(
            _("按时办结率"),
            pct(tl.on_time_rate),
            _("作出决定 %(n)d 件中 %(k)d 件", n=tl.decided, k=tl.on_time),
        ),
        Headline(_("即办件比例"), pct(tl.instant_share), _("秒批 %(s)s", s=pct(tl.auto_share))),
        Headline(
            _("减材料比例"),
            pct(board.materials.all.share),
            _("再次办事的申请人 %(s)s", s=pct(board.materials.returning.share)),
        ),
        Headline(
            _("好评率"),
            pct(board.ratings.good_rate),
            _("共 %(n)d 条评价", n=board.ratings.count),
        ),
    ]

"""The statistics filters from the query string: a form to show again, a StatsFilter to count.

Every filter lives in the URL (GET), so a view can be bookmarked, shared and exported. A value
that is not valid gets its message next to its field and counts as "any" (a wrong date counts
as the default period), and the page answers 400 with the figures for what was valid, saying
which period and filters they are for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from flask import request
from flask_babel import gettext as _

from forms.statistics import CHANNEL_LABELS, StatisticsFilterForm
from portal.params import parse_day, parse_int
from services import report_choices
from services import statistics as stats

MAX_PERIOD_DAYS = 3 * 366  # a dashboard of up to three years


@dataclass
class Filters:
    form: StatisticsFilterForm
    filter: stats.StatsFilter
    choices: report_choices.FilterChoices
    department_name: str | None  # of a department view, or of the department chosen

    @property
    def valid(self) -> bool:
        return not self.form.errors

    def describe(self) -> list[str]:
        """The filters in force, in words, for the page and the CSV file name."""
        f = self.filter
        parts = [_("%(start)s 至 %(end)s", start=f.start.isoformat(), end=f.end.isoformat())]
        if self.department_name:
            parts.append(self.department_name)
        names = {
            "item": ({c.id: c.name for c in self.choices.items}, f.item_id),
            "theme": ({c.id: c.name for c in self.choices.themes}, f.theme_id),
            "hall": ({c.id: c.name for c in self.choices.halls}, f.hall_id),
        }
        for known, chosen in names.values():
            if chosen is not None:
                parts.append(known.get(chosen, str(chosen)))
        if f.channel:
            parts.append(str(CHANNEL_LABELS[f.channel]))
        return parts


def _chosen(form: StatisticsFilterForm, name: str) -> int | None:
    field = getattr(form, name, None)
    if field is None or field.errors or not field.data:
        return None
    return parse_int(field.data)


def _dates(form: StatisticsFilterForm, today: date) -> tuple[date, date]:
    default = stats.default_period(today)
    start_raw = (form.start.data or "").strip()
    end_raw = (form.end.data or "").strip()
    start = parse_day(start_raw) if start_raw else default.start
    end = parse_day(end_raw) if end_raw else today
    message = _("请按“年-月-日”填写日期，例如 %(example)s", example=today.isoformat())
    if start is None:
        form.start.errors.append(message)
    if end is None:
        form.end.errors.append(message)
    if start is not None and end is not None:
        if end > today:
            form.end.errors.append(_("结束日期不能晚于今天（%(today)s）", today=today.isoformat()))
        elif start > end:
            form.end.errors.append(_("结束日期不能早于开始日期"))
        elif (end - start).days >= MAX_PERIOD_DAYS:
            form.start.errors.append(_("统计期间最长三年，请把开始日期往后调"))
    if form.start.errors or form.end.errors:
        start, end = default.start, default.end
    form.start.data, form.end.data = start.isoformat(), end.isoformat()
    return start, end


def read_filters(today: date, *, department_id: int | None = None) -> Filters:
    """The filters of this request. ``department_id``: a department view's own department,
    which no query argument can change (there is no department field)."""
    fixed = department_id is not None
    wanted_department = None if fixed else parse_int(request.args.get("department", ""))
    choices = report_choices.filter_choices(department_id if fixed else wanted_department)
    form = StatisticsFilterForm(formdata=request.args)
    form.set_choices(choices, with_department=not fixed)
    if choices.items_need_department:
        form.item.description = _("事项较多：请先选部门并点“查看”，再选事项")
    form.validate()
    for field in form:
        field.errors = list(field.errors)
    start, end = _dates(form, today)
    chosen_department = department_id if fixed else _chosen(form, "department")
    channel = form.channel.data if not form.channel.errors and form.channel.data else None
    result = stats.StatsFilter(
        start=start,
        end=end,
        department_id=chosen_department,
        item_id=_chosen(form, "item"),
        theme_id=_chosen(form, "theme"),
        channel=channel,
        hall_id=_chosen(form, "hall"),
    )
    if fixed:  # whatever else happened above, a department view counts its department only
        result = replace(result, department_id=department_id)
    names = {c.id: c.name for c in choices.departments}
    return Filters(form, result, choices, names.get(result.department_id or -1))

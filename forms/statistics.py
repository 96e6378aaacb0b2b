"""The statistics filters (统计分析) and the public performance list's search, read from the
query string. Dates are checked by portal/statistics/filters.py with portal.params.parse_day,
like every date the portal takes from a URL; the choices come from the database."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SearchField, StringField
from wtforms.fields.choices import SelectChoice

from forms.catalogue import GetForm, filter_select

CHANNEL_LABELS = {
    "online": _l("网上办理"),
    "counter": _l("窗口受理"),
    "kiosk": _l("自助终端"),
}


def date_field(label, description) -> StringField:
    return StringField(
        label,
        description=description,
        render_kw={"type": "date", "min": "2000-01-01", "max": "2099-12-31"},
    )


class StatisticsFilterForm(GetForm):
    start = date_field(_l("开始日期"), _l("含当天，例如 2026-01-01"))
    end = date_field(_l("结束日期"), _l("含当天，最晚到今天"))
    department = filter_select(_l("部门"))
    item = filter_select(_l("事项"))
    theme = filter_select(_l("主题"))
    channel = filter_select(
        _l("渠道"),
        [
            SelectChoice("", _l("全部渠道")),
            *(SelectChoice(value, label) for value, label in CHANNEL_LABELS.items()),
        ],
    )
    hall = filter_select(_l("服务大厅"))

    def set_choices(self, choices, *, with_department: bool = True) -> None:
        """``choices``: services.report_choices.FilterChoices. A department view has no
        department field (it is always the reviewer's own)."""
        if with_department:
            self.department.choices = [SelectChoice("", _l("全部部门"))] + [
                SelectChoice(str(d.id), d.name) for d in choices.departments
            ]
        else:
            del self.department
        self.item.choices = [SelectChoice("", _l("全部事项"))] + [
            SelectChoice(str(i.id), i.name, optgroup=i.group if with_department else None)
            for i in choices.items
        ]
        self.theme.choices = [SelectChoice("", _l("全部主题"))] + [
            SelectChoice(str(t.id), t.name) for t in choices.themes
        ]
        self.hall.choices = [SelectChoice("", _l("全部大厅"))] + [
            SelectChoice(str(h.id), h.name) for h in choices.halls
        ]


SORT_LABELS = {
    "cases": _l("办件量"),
    "within_promise": _l("按时办结比例"),
    "typical_days": _l("一般用时"),
    "zero_visit": _l("不用跑腿的比例"),
    "good_rate": _l("好评率"),
    "name": _l("事项名称"),
}


class PerformanceSearchForm(GetForm):
    q = SearchField(
        _l("查找事项"),
        description=_l("输入事项名称或编码的一部分"),
        render_kw={"autocomplete": "off", "maxlength": "100", "enterkeyhint": "search"},
    )

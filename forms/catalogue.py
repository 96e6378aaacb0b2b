"""The public catalogue's GET forms: the search box and the catalogue filters."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SearchField, SelectField
from wtforms.fields.choices import SelectChoice

from forms.base import PortalForm
from services.catalogue.vocabulary import AUDIENCE_LABELS


class GetForm(PortalForm):
    """A form read from the query string: no CSRF (it changes nothing)."""

    class Meta:
        csrf = False


class SearchForm(GetForm):
    q = SearchField(
        _l("搜索办事事项"),
        description=_l("输入事项名称、编码、关键词或拼音，例如：居住证、换驾照、jzz"),
        render_kw={"autocomplete": "off", "maxlength": "100", "enterkeyhint": "search"},
    )


INVALID_CHOICE = _l("没有这个选项，已按“不限”显示")


def filter_select(label, choices=None) -> SelectField:
    """A select whose unknown values get a friendly message (the view then ignores them)."""
    return SelectField(
        label, choices=choices or [], default="", invalid_choice_message=INVALID_CHOICE
    )


class CatalogueFilterForm(GetForm):
    """Filters of /catalogue; theme and department choices come from the database."""

    theme = filter_select(_l("主题"))
    department = filter_select(_l("实施部门"))
    audience = filter_select(
        _l("服务对象"),
        [
            SelectChoice("", _l("不限")),
            *(SelectChoice(value, label) for value, label in AUDIENCE_LABELS.items()),
        ],
    )
    visits = filter_select(
        _l("跑动次数"),
        [
            SelectChoice("", _l("不限")),
            SelectChoice("0", _l("跑零次")),
            SelectChoice("1", _l("最多跑一次")),
        ],
    )
    full_online = BooleanField(_l("全程网办"))
    instant = BooleanField(_l("即办件（当场办结）"))

    def set_choices(self, themes, departments) -> None:
        self.theme.choices = [SelectChoice("", _l("全部主题"))] + [
            SelectChoice(
                str(t.id),
                t.name,
                optgroup=str(
                    AUDIENCE_LABELS["person" if t.audience == "person" else "organisation"]
                ),
            )
            for t in themes
        ]
        self.department.choices = [SelectChoice("", _l("全部部门"))] + [
            SelectChoice(d.code, d.name) for d in departments
        ]

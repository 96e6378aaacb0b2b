"""Forms of the working-day calendar (工作日历): a year's schedule and a single day."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, HiddenField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from forms.base import PortalForm
from services.calendar_admin import MAX_SOURCE_CHARS


class ScheduleImportForm(PortalForm):
    source = TextAreaField(
        _l("放假安排"),
        description=_l(
            "每个节日一行，照抄国务院办公厅通知的写法，例如：春节：2月15日至21日放假调休，共7天。"
            "2月14日（周六）、2月28日（周六）上班。也可以每行一段 CSV：date_from,date_to,kind"
            "（kind 为 rest 放假或 work 上班），例如 2027-02-15,2027-02-21,rest"
        ),
        validators=[InputRequired(_l("请填写这一年的放假安排")), Length(max=MAX_SOURCE_CHARS)],
        render_kw={"rows": 10},
    )
    # the preview's fingerprint: confirming imports exactly what was previewed
    fingerprint = HiddenField()


DAY_CHOICE_LABELS = {
    "work": _l("工作日（上班）"),
    "rest": _l("休息日（放假）"),
    "default": _l("按默认：法定日历已知的年份以其为准，否则周一至周五上班"),
}


class DayForm(PortalForm):
    choice = RadioField(
        _l("这一天"),
        choices=[SelectChoice(key, label) for key, label in DAY_CHOICE_LABELS.items()],
        validators=[InputRequired(_l("请选择这一天是工作日还是休息日"))],
    )
    note = StringField(
        _l("备注"),
        description=_l("例如节日名称“春节”或调整的原因，最多 40 个字"),
        validators=[Optional(), Length(max=40)],
    )


class FindDayForm(PortalForm):
    """A GET form: which day to open (nothing changes, so no CSRF token)."""

    class Meta:
        csrf = False

    day = DateField(_l("日期"), validators=[DataRequired(_l("请填写一个有效的日期"))])

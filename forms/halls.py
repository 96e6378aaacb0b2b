"""Admin forms for service halls: the hall, its windows and queue categories, the weekly
appointment template, extra sessions, closures and one slot's capacity.

The forms check the shape of the input; the rules (a window number or a letter used once per
hall, sessions that do not overlap, a capacity not below what is booked, a closure not in the
past …) are in services/halls.py and services/capacity.py, whose field errors come back next
to the fields through ``apply_errors``.
"""

from __future__ import annotations

from datetime import date, datetime, time

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, SelectField, StringField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from forms.admin import CHOICE_MESSAGE, AdminForm, IntField, MultiCheckboxField
from services.capacity import PART_LABELS, SLOT_MINUTES, WEEKDAY_LABELS
from services.errors import ValidationError


class HallsForm(AdminForm):
    """Admin forms of this area; a service's field errors also find prefixed fields (several
    small forms on one page: the template's two, a capacity form per slot)."""

    def apply_errors(self, exc: ValidationError) -> None:
        prefix = getattr(self, "_prefix", "")
        super().apply_errors(
            ValidationError({(prefix + k if k else k): v for k, v in exc.errors.items()})
        )


# a choice that is not offered (a crafted form) is refused in the portal's words
CHOICE = {"invalid_choice_message": CHOICE_MESSAGE, "invalid_value_message": CHOICE_MESSAGE}


class DayField(DateField):
    """A date (年-月-日) whose refusal reads in Chinese."""

    def process_formdata(self, valuelist: list[str]) -> None:
        raw = (valuelist[0] if valuelist else "").strip()
        self.data = None
        if raw:
            try:
                self.data = date.fromisoformat(raw)
            except ValueError:
                raise ValueError(_l("请按 年-月-日 填写日期，例如 2026-12-31")) from None


class ClockField(TimeField):
    """A time of day (时:分, 24-hour) whose refusal reads in Chinese."""

    def process_formdata(self, valuelist: list[str]) -> None:
        raw = (valuelist[0] if valuelist else "").strip()
        self.data = None
        if raw:
            try:
                self.data = datetime.strptime(raw[:5], "%H:%M").time()
            except ValueError:
                raise ValueError(_l("请按 时:分 填写时间，例如 09:00")) from None

    def _value(self) -> str:
        if self.raw_data:
            return " ".join(self.raw_data)
        return self.data.strftime("%H:%M") if isinstance(self.data, time) else ""


class HallForm(HallsForm):
    name = StringField(
        _l("大厅名称"),
        validators=[
            InputRequired(_l("请填写大厅名称")),
            Length(max=100, message=_l("大厅名称最多 100 个字")),
        ],
    )
    address = StringField(_l("地址"), validators=[Length(max=200, message=_l("地址最多 200 个字"))])
    hours = StringField(
        _l("办公时间"),
        validators=[Length(max=200, message=_l("办公时间最多 200 个字"))],
        description=_l("给办事群众看的文字，如：周一至周五 9:00-17:00；预约时段在预约模板中设置"),
    )
    phone = StringField(
        _l("咨询电话"),
        validators=[Length(max=40, message=_l("咨询电话最多 40 个字"))],
        render_kw={"autocomplete": "off", "inputmode": "tel"},
    )


class HallCreateForm(HallForm):
    code = StringField(
        _l("大厅编码"),
        validators=[InputRequired(_l("请填写大厅编码"))],
        description=_l(
            "2 至 16 位字母或数字，如 SMZX；出现在取号和自助终端的网址中，创建后不能修改"
        ),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )


class CategoryForm(HallsForm):
    name = StringField(
        _l("类别名称"),
        validators=[
            InputRequired(_l("请填写类别名称")),
            Length(max=50, message=_l("类别名称最多 50 个字")),
        ],
        description=_l("如：户籍与出入境、社保医保与公积金、综合受理"),
    )
    department_ids = MultiCheckboxField(
        _l("服务的部门"),
        coerce=int,
        **CHOICE,
        description=_l("这些部门的事项在这个类别取号和预约；都不选即为综合受理，可办任何事项"),
    )
    open = BooleanField(_l("开放取号和预约"), default=True)


class CategoryCreateForm(CategoryForm):
    code = StringField(
        _l("取号字母"),
        validators=[InputRequired(_l("请填写取号字母"))],
        description=_l("一个英文字母，号码以它开头（A001）；本大厅内不能重复，创建后不能修改"),
        render_kw={"autocomplete": "off", "spellcheck": "false", "maxlength": 1},
    )


class WindowForm(HallsForm):
    number = IntField(
        _l("窗口号"),
        validators=[InputRequired(_l("请填写窗口号"))],
        description=_l("叫号屏念出的号码（请 A012 号到 3 号窗口）；本大厅内不能重复"),
    )
    name = StringField(
        _l("窗口名称"),
        validators=[Length(max=50, message=_l("窗口名称最多 50 个字"))],
        description=_l("可不填，默认为“N 号窗口”"),
    )
    category_codes = MultiCheckboxField(_l("叫号的服务类别"), **CHOICE)
    active = BooleanField(_l("窗口在用"), default=True)


def _minutes_choices() -> list[SelectChoice]:
    return [SelectChoice(m, _l("%(n)d 分钟", n=m)) for m in SLOT_MINUTES]


class PeriodForm(HallsForm):
    starts_at = ClockField(
        _l("开始时间"),
        validators=[InputRequired(_l("请填写开始时间"))],
        description=_l("24 小时制，如 09:00"),
    )
    ends_at = ClockField(
        _l("结束时间"),
        validators=[InputRequired(_l("请填写结束时间"))],
        description=_l("24 小时制，如 12:00"),
    )
    slot_minutes = SelectField(
        _l("每个号段"), coerce=int, choices=_minutes_choices, default=60, **CHOICE
    )
    capacity = IntField(
        _l("每个号段的名额"),
        validators=[InputRequired(_l("请填写每个号段的名额"))],
        description=_l("如每小时接待 6 人：号段 60 分钟、名额 6"),
    )


class WeeklySessionForm(PeriodForm):
    weekdays = MultiCheckboxField(
        _l("星期"),
        coerce=int,
        choices=[SelectChoice(d, label) for d, label in WEEKDAY_LABELS.items()],
        **CHOICE,
        description=_l("节假日不开放；调休上班的周末按周一的时段开放"),
    )


class ExtraSessionForm(PeriodForm):
    day = DayField(
        _l("日期"),
        validators=[InputRequired(_l("请填写日期"))],
        description=_l("加开的时段在这一天开放，节假日和周末也开放"),
    )


class ClosureForm(HallsForm):
    first_day = DayField(_l("开始日期"), validators=[InputRequired(_l("请填写开始日期"))])
    last_day = DayField(_l("结束日期"), validators=[Optional()], description=_l("只停一天可不填"))
    part = SelectField(
        _l("暂停时段"),
        choices=[SelectChoice(k, v) for k, v in PART_LABELS.items()],
        default="day",
        **CHOICE,
        description=_l("上午：12:00 前开始的号段；下午：12:00 起的号段"),
    )
    category_id = SelectField(_l("服务类别"), coerce=int, default=0, **CHOICE)
    reason = StringField(
        _l("暂停原因"),
        validators=[
            InputRequired(_l("请填写暂停原因")),
            Length(max=200, message=_l("暂停原因最多 200 个字")),
        ],
        description=_l("会发给受影响的办事群众，如：系统升级、场地维修"),
    )


class SlotCapacityForm(HallsForm):
    capacity = IntField(_l("名额"), validators=[InputRequired(_l("请填写名额"))])

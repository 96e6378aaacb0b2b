"""Forms of the counter workstation (综合窗口). Personal data never goes into the browser's
autocomplete: every field that holds it has autocomplete="off". Like the reviewer's forms they
leave CSRF to the global CSRFProtect (several forms share a page); the outcome forms are the
reviewer's own (forms.review.ACTION_FORMS)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional

from forms.review import ActionForm

PRIVATE = {"autocomplete": "off", "spellcheck": "false"}


class LookupForm(ActionForm):
    query = StringField(
        _l("身份证号或手机号"),
        validators=[DataRequired(_l("请输入身份证号或手机号")), Length(max=40)],
        description=_l("刷身份证或输入号码后按回车"),
        render_kw={**PRIVATE, "autofocus": True, "inputmode": "text"},
    )


class PersonForm(ActionForm):
    """实名信息: name, 身份证号, phone (the walk-in, or the agent who came for them)."""

    name = StringField(
        _l("姓名"),
        validators=[DataRequired(_l("请填写与身份证一致的姓名（2 至 30 个字）")), Length(max=30)],
        render_kw=PRIVATE,
    )
    id_number = StringField(
        _l("身份证号"),
        validators=[DataRequired(_l("请输入 18 位居民身份证号")), Length(max=20)],
        render_kw=PRIVATE,
    )
    phone = StringField(
        _l("手机号"),
        validators=[DataRequired(_l("请输入 11 位手机号码")), Length(max=20)],
        render_kw={**PRIVATE, "inputmode": "tel"},
    )


class RegisterForm(PersonForm):
    address = StringField(
        _l("联系地址"), validators=[Optional(), Length(max=200)], render_kw=PRIVATE
    )


class AgentForm(PersonForm):
    pass


class PickupForm(ActionForm):
    visit_reason = StringField(
        _l("超次到场说明"),
        validators=[Optional(), Length(max=300)],
        description=_l("超过办事指南承诺的到场次数时必须说明原因"),
    )

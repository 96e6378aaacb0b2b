"""The 亲友代办 authorisation form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, StringField
from wtforms.validators import DataRequired, Length

from forms.base import PortalForm


class AuthoriseForm(PortalForm):
    agent_phone = StringField(
        _l("代办人手机号"),
        validators=[DataRequired(_l("请填写代办人的手机号")), Length(max=20)],
        description=_l("代办人须已在本网站实名注册"),
        render_kw={"autocomplete": "off", "inputmode": "tel"},
    )
    valid_until = DateField(
        _l("授权截止日期"),
        validators=[DataRequired(_l("请填写授权截止日期"))],
        description=_l("最长 3 年，可随时撤销"),
    )

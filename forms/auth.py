"""Registration, login and profile forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from forms.base import PortalForm


class RegisterForm(PortalForm):
    name = StringField(
        _l("姓名"),
        validators=[DataRequired(_l("请填写姓名")), Length(max=30)],
        description=_l("与身份证上的姓名一致"),
        render_kw={"autocomplete": "name"},
    )
    id_number = StringField(
        _l("身份证号"),
        validators=[
            DataRequired(_l("请填写身份证号")),
            Length(max=18, message=_l("身份证号为 18 位")),
        ],
        description=_l("18 位，最后一位可能是 X"),
        render_kw={"autocomplete": "off", "inputmode": "text", "spellcheck": "false"},
    )
    phone = StringField(
        _l("手机号"),
        validators=[DataRequired(_l("请填写手机号")), Length(max=20)],
        description=_l("用于登录和接收办件通知"),
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )
    password = PasswordField(
        _l("密码"),
        validators=[DataRequired(_l("请设置密码")), Length(max=128)],
        description=_l("至少 8 位，同时包含字母和数字"),
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("再次输入密码"),
        validators=[
            DataRequired(_l("请再次输入密码")),
            EqualTo("password", _l("两次输入的密码不一致")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    address = StringField(
        _l("常住地址"),
        validators=[Optional(), Length(max=200, message=_l("地址最多 200 个字"))],
        description=_l("选填，办事时可自动填入"),
        render_kw={"autocomplete": "street-address"},
    )


class LoginForm(PortalForm):
    login = StringField(
        _l("手机号或工作账号"),
        validators=[DataRequired(_l("请填写手机号或工作账号")), Length(max=40)],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        _l("密码"),
        validators=[DataRequired(_l("请填写密码")), Length(max=128)],
        render_kw={"autocomplete": "current-password"},
    )


class ProfileForm(PortalForm):
    address = StringField(
        _l("常住地址"),
        validators=[Optional(), Length(max=200, message=_l("地址最多 200 个字"))],
        render_kw={"autocomplete": "street-address"},
    )
    elder_mode = BooleanField(_l("使用长辈模式（大字、大按钮、朗读）"))
    locale = RadioField(
        _l("界面语言"),
        choices=[
            SelectChoice("zh_CN", "中文"),
            SelectChoice("en", "English", render_kw={"lang": "en"}),
        ],
        default="zh_CN",
    )


class EmptyForm(PortalForm):
    """A form with only the CSRF token, for buttons that post (logout, switches)."""


def _code_field() -> StringField:
    return StringField(
        _l("短信验证码"),
        validators=[DataRequired(_l("请填写短信验证码")), Length(max=20)],
        description=_l("6 位数字，10 分钟内有效"),
        render_kw={
            "autocomplete": "one-time-code",
            "inputmode": "numeric",
            "spellcheck": "false",
            "class": "input-code",
        },
    )


def _new_password_fields(name: str, label) -> tuple[PasswordField, PasswordField]:
    return (
        PasswordField(
            label,
            validators=[DataRequired(_l("请设置新密码")), Length(max=128)],
            description=_l("至少 8 位，同时包含字母和数字，不能与当前密码相同"),
            render_kw={"autocomplete": "new-password"},
        ),
        PasswordField(
            _l("再次输入新密码"),
            validators=[
                DataRequired(_l("请再次输入新密码")),
                EqualTo(name, _l("两次输入的密码不一致")),
            ],
            render_kw={"autocomplete": "new-password"},
        ),
    )


class CodeForm(PortalForm):
    """The second step of registration and of a change of phone: the code from the SMS."""

    code = _code_field()


class ForgotForm(PortalForm):
    """忘记密码, step 1: the account's phone."""

    phone = StringField(
        _l("注册时使用的手机号"),
        validators=[DataRequired(_l("请填写手机号")), Length(max=20)],
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )


class ResetForm(PortalForm):
    """忘记密码, step 2: the code and the new password."""

    code = _code_field()
    password, confirm = _new_password_fields("password", _l("新密码"))


class ChangePasswordForm(PortalForm):
    current_password = PasswordField(
        _l("当前密码"),
        validators=[DataRequired(_l("请填写当前密码")), Length(max=128)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password, confirm = _new_password_fields("new_password", _l("新密码"))


class ChangePhoneForm(PortalForm):
    """更换手机号, step 1: the new phone and the account's password."""

    phone = StringField(
        _l("新手机号"),
        validators=[DataRequired(_l("请填写新手机号")), Length(max=20)],
        description=_l("验证码将发送到新手机号"),
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )
    current_password = PasswordField(
        _l("当前密码"),
        validators=[DataRequired(_l("请填写当前密码")), Length(max=128)],
        render_kw={"autocomplete": "current-password"},
    )

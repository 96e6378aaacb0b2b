"""Staff accounts (admin) and the staff's own login steps: new password, authenticator code."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from forms.admin import CHOICE_MESSAGE, AdminForm, MultiCheckboxField
from forms.base import PortalForm

# made before the shared fields, so that the new-colleague page lists it (and its error) first
USERNAME = StringField(
    _l("工作账号"),
    validators=[DataRequired(_l("请填写工作账号")), Length(max=40, message=_l("最多 40 位"))],
    description=_l("以字母开头，3 至 40 位小写字母、数字或 _ . -；创建后不能修改"),
    render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"},
)


class StaffForm(AdminForm):
    """Edit a colleague: name, roles held, the role they act in, department and hall."""

    display_name = StringField(
        _l("姓名"),
        validators=[DataRequired(_l("请填写姓名")), Length(max=50, message=_l("姓名最多 50 个字"))],
        render_kw={"autocomplete": "off"},
    )
    roles = MultiCheckboxField(
        _l("角色"),
        description=_l("可选多个；同时担任几个角色的人在页面顶部切换当前角色"),
        invalid_choice_message=CHOICE_MESSAGE,
    )
    acting_role = SelectField(
        _l("当前角色"),
        description=_l("登录后以此角色办理，须是上面所选角色之一"),
        invalid_choice_message=CHOICE_MESSAGE,
    )
    department_id = SelectField(
        _l("所属部门"),
        description=_l("窗口人员和审批人员必填"),
        coerce=int,
        invalid_choice_message=CHOICE_MESSAGE,
        invalid_value_message=CHOICE_MESSAGE,
    )
    hall_id = SelectField(
        _l("所在大厅"),
        description=_l("窗口人员必填"),
        coerce=int,
        invalid_choice_message=CHOICE_MESSAGE,
        invalid_value_message=CHOICE_MESSAGE,
    )


class StaffCreateForm(StaffForm):
    username = USERNAME
    initial_password = PasswordField(
        _l("初始密码"),
        validators=[DataRequired(_l("请设置初始密码")), Length(max=128)],
        description=_l("至少 8 位，同时包含字母和数字；请当面或电话告知本人，首次登录须修改"),
        render_kw={"autocomplete": "new-password"},
    )


class ChangePasswordForm(PortalForm):
    password = PasswordField(
        _l("新密码"),
        validators=[DataRequired(_l("请设置新密码")), Length(max=128)],
        description=_l("至少 8 位，同时包含字母和数字，不能与初始密码相同"),
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("再次输入新密码"),
        validators=[
            DataRequired(_l("请再次输入新密码")),
            EqualTo("password", _l("两次输入的密码不一致")),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class SecondFactorForm(PortalForm):
    code = StringField(
        _l("验证码"),
        validators=[DataRequired(_l("请填写验证码")), Length(max=20)],
        description=_l("验证器应用中显示的 6 位数字；手机丢失时可填一个恢复码"),
        render_kw={
            "autocomplete": "one-time-code",
            "inputmode": "numeric",
            "spellcheck": "false",
            "autocapitalize": "none",
        },
    )


class EnrolForm(PortalForm):
    code = StringField(
        _l("验证码"),
        validators=[DataRequired(_l("请填写验证码")), Length(max=20)],
        description=_l("扫码后验证器应用中显示的 6 位数字"),
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class PasswordResetForm(PortalForm):
    """An admin gives a colleague who forgot their password a new initial one."""

    initial_password = PasswordField(
        _l("新的初始密码"),
        validators=[DataRequired(_l("请设置初始密码")), Length(max=128)],
        description=_l("至少 8 位，同时包含字母和数字；请当面或电话告知本人，下次登录须修改"),
        render_kw={"autocomplete": "new-password"},
    )

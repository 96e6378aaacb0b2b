"""The kiosk's case check (办件查询): case number and the applicant's 身份证号."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from forms.base import PortalForm


class CaseCheckForm(PortalForm):
    number = StringField(
        _l("办件编号"),
        validators=[
            DataRequired(_l("请填写办件编号")),
            Length(max=32, message=_l("办件编号最多 32 位")),
        ],
        description=_l("在受理回执或短信中，例如 WB20261124000123"),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    id_number = StringField(
        _l("申请人身份证号"),
        validators=[
            DataRequired(_l("请填写身份证号")),
            Length(max=18, message=_l("身份证号为 18 位")),
        ],
        description=_l("18 位，最后一位可能是 X"),
        render_kw={"autocomplete": "off", "spellcheck": "false", "inputmode": "text"},
    )


class KioskDeviceForm(PortalForm):
    """把本机设为自助终端 (counter staff for their hall, admins for any)."""

    hall = SelectField(_l("服务大厅"), choices=[], validate_choice=False)
    terminal = StringField(
        _l("本机名称和位置"),
        validators=[
            DataRequired(_l("请填写本机的名称和位置，例如“B区2号机（取号机右侧）”")),
            Length(max=40, message=_l("最多 40 个字")),
        ],
        description=_l("群众呼叫工作人员时，窗口会看到这个名称，例如“B区2号机（取号机右侧）”"),
        render_kw={"autocomplete": "off"},
    )

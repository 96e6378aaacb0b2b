"""The kiosk's case check (办件查询): case number and the applicant's 身份证号."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import StringField
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

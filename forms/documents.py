"""The document library's upload form and the public e-licence verification form."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from forms.base import PortalForm


def _id_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class DateInputField(StringField):
    """A date typed or picked as YYYY-MM-DD; a wrong value gets our message, in our language."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("render_kw", {})
        kwargs["render_kw"].setdefault("type", "date")
        super().__init__(*args, **kwargs)
        self.date: date | None = None

    def process_formdata(self, valuelist) -> None:
        super().process_formdata(valuelist)
        self.date = None
        raw = (self.data or "").strip()
        if raw:
            try:
                self.date = date.fromisoformat(raw)
            except ValueError:
                # WTForms keeps a ValueError raised here as the field's error
                raise ValueError(str(_l("请按“年-月-日”填写日期，例如 2024-05-01"))) from None


class UploadForm(PortalForm):
    material_type = SelectField(
        _l("材料类型"),
        coerce=_id_or_none,
        validate_choice=False,  # the service checks the type exists
        validators=[DataRequired(_l("请选择材料类型"))],
        description=_l("同一类型的材料可在以后办事时直接复用"),
    )
    issued_on = DateInputField(
        _l("开具日期"),
        description=_l("选填；照片、收入证明等有时效的材料请填写，用于计算是否过期"),
    )
    valid_until = DateInputField(
        _l("有效期至"),
        description=_l("选填；仅身份证、居住证等证件自带有效期的材料需要填写"),
    )
    file = FileField(
        _l("文件"),
        validators=[FileRequired(_l("请选择要上传的文件"))],
        render_kw={"accept": "application/pdf,image/jpeg,image/png,.pdf,.jpg,.jpeg,.png"},
    )

    def set_choices(self, material_types, max_mb: int) -> None:
        self.material_type.choices = [SelectChoice("", str(_l("请选择")))] + [
            SelectChoice(str(mt.id), mt.name, optgroup=mt.category or str(_l("其他")))
            for mt in material_types
        ]
        self.file.description = _l(
            "PDF、JPG 或 PNG，最大 %(mb)s MB；照片中的位置等隐藏信息会被去除", mb=max_mb
        )


class VerifyForm(PortalForm):
    number = StringField(
        _l("证照编号"),
        validators=[
            DataRequired(_l("请填写证照编号")),
            Length(max=64, message=_l("证照编号最多 64 位")),
        ],
        description=_l("证照上印有编号，扫描证照上的二维码会自动填入"),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    holder_code = StringField(
        _l("持证主体代码"),
        validators=[
            DataRequired(_l("请填写持证主体代码")),
            Length(max=32, message=_l("持证主体代码最多 32 位")),
        ],
        description=_l("持证人的 18 位身份证号，或单位的统一社会信用代码"),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )

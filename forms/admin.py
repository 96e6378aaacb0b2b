"""Admin forms: departments, the material catalogue, items and their guides, bundles.

The forms parse and check the shape of the input; the rules (unique codes, 承诺时限 within
法定时限, conditions that point somewhere …) live in services.catalogue, whose field errors
``AdminForm.apply_errors`` puts back next to the fields, also inside repeated rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import wtforms
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget, NumberInput

from forms.base import PortalForm
from services.case_states import DELIVERY_KINDS
from services.catalogue import (
    AUDIENCE_LABELS,
    CASE_TYPE_LABELS,
    ITEM_TYPE_LABELS,
    MAX_ROWS,
    MEDIUM_LABELS,
    NECESSITY_LABELS,
    ONLINE_DEPTH_LABELS,
    ORIGINAL_LABELS,
    PREFILL_LABELS,
    QUESTION_TYPE_LABELS,
    RESULT_TYPE_LABELS,
    SOURCE_LABELS,
    STEP_ROLE_LABELS,
    UNIT_LABELS,
    VALIDITY_LABELS,
)
from services.delivery import term_label
from services.errors import ValidationError

BLANK_ROWS = 2  # empty rows offered under each list
ADD_ROWS = 3  # rows added by an "add rows" button
CHOICE_MESSAGE = _l("请从列表中选择")
WORD_SPLIT = re.compile(r"[\n,，、;；]+")


def choices(labels: dict) -> list[SelectChoice]:
    return [SelectChoice(str(value), label) for value, label in labels.items()]


class IntField(IntegerField):
    """An optional whole number with a Chinese message for anything else."""

    widget = NumberInput()

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        try:
            self.data = int(str(valuelist[0]).strip())
        except ValueError:
            self.data = None
            raise ValueError(_l("请填写整数")) from None


class RadioField(wtforms.RadioField):
    """Radio buttons whose refusal of an unknown value reads like the rest of the portal.
    (Keeps the class name: templates/_macros/forms.html renders fields by their type name.)"""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("invalid_choice_message", CHOICE_MESSAGE)
        super().__init__(*args, **kwargs)


class LockField(IntField):
    """The draft's lock number when the page was opened (see ``_lock_draft``)."""

    widget = HiddenInput()


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def split_words(text: str | None) -> list[str]:
    return [w.strip() for w in WORD_SPLIT.split(text or "") if w.strip()]


def parse_options(text: str | None) -> list[list[str]]:
    """One option per line, ``值=显示文字`` or just the text (then it is also the value)."""
    pairs = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        value, sep, label = line.partition("=")
        pairs.append([value.strip(), label.strip()] if sep else [line, line])
    return pairs


def format_options(pairs: list | None) -> str:
    return "\n".join(str(v) if v == label else f"{v}={label}" for v, label in pairs or [])


class AdminForm(PortalForm):
    """Adds repeated rows: their errors are listed in the summary and shown in the row."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.list_errors: dict[str, list[str]] = {}
        self._row_ids: dict[str, list[str]] = {}

    def _walk(self) -> Iterator[tuple[Any, Any, int | None]]:
        """(field, the list it is in or None, its row number) for every input field."""
        for f in self:
            if isinstance(f, FieldList):
                for n, entry in enumerate(f.entries, start=1):
                    for sub in entry.form:
                        yield sub, f, n
            else:
                yield f, None, None

    def collect_rows(self, name: str, convert, is_blank) -> list[dict[str, Any]]:
        """The rows of a list that carry content, minus those marked for removal."""
        rows, ids = [], []
        for entry in getattr(self, name).entries:
            sub = entry.form
            if sub.remove.data or is_blank(sub):
                continue
            rows.append(convert(sub))
            ids.append(entry.id)
        self._row_ids[name] = ids
        return rows

    def add_rows(self, name: str, count: int = ADD_ROWS) -> None:
        fl = getattr(self, name)
        for _ in range(count):
            if fl.max_entries and len(fl.entries) >= fl.max_entries:
                break
            fl.append_entry()

    def apply_errors(self, exc: ValidationError) -> None:
        by_id = {f.id: f for f, _, _ in self._walk()}
        lists = {f.id: f for f in self if isinstance(f, FieldList)}
        for name, message in exc.errors.items():
            match = re.fullmatch(r"([a-z_]+)-(\d+)-([a-z_]+)", name or "")
            if match and match.group(1) in self._row_ids:
                ids = self._row_ids[match.group(1)]
                i = int(match.group(2))
                if i < len(ids):
                    name = f"{ids[i]}-{match.group(3)}"
            if name in lists:
                self.list_errors.setdefault(name, []).append(message)
            elif name in by_id:
                f = by_id[name]
                f.errors = [*list(f.errors or ()), message]
            else:
                self.form_errors.append(message)

    def error_items(self) -> list[tuple[str, str, str]]:
        """(anchor, label, message) for the error summary, rows named by their number."""
        items = []
        for f, fl, n in self._walk():
            for message in f.errors if isinstance(f.errors, list | tuple) else ():
                if isinstance(message, dict | list):
                    continue
                label = (
                    f.label.text
                    if fl is None
                    else _l(
                        "%(list)s第 %(n)d 行的%(field)s",
                        list=fl.label.text,
                        n=n,
                        field=f.label.text,
                    )
                )
                items.append((f.id, str(label), str(message)))
        for fl_id, messages in self.list_errors.items():
            label = getattr(self, fl_id).label.text
            items.extend((fl_id, str(label), str(m)) for m in messages)
        return items

    @property
    def has_errors(self) -> bool:
        return bool(self.form_errors or self.error_items())


# ---------------------------------------------------------------------------- departments


class DepartmentForm(AdminForm):
    name = StringField(
        _l("部门名称"),
        validators=[
            DataRequired(_l("请填写部门名称")),
            Length(max=100, message=_l("部门名称最多 100 个字")),
        ],
    )
    phone = StringField(
        _l("咨询电话"),
        validators=[Length(max=40, message=_l("咨询电话最多 40 个字"))],
        render_kw={"autocomplete": "off", "inputmode": "tel"},
    )
    address = StringField(
        _l("办公地址"), validators=[Length(max=200, message=_l("办公地址最多 200 个字"))]
    )
    hours = StringField(
        _l("办公时间"), validators=[Length(max=200, message=_l("办公时间最多 200 个字"))]
    )


class DepartmentCreateForm(DepartmentForm):
    code = StringField(
        _l("部门编码"),
        validators=[
            DataRequired(_l("请填写部门编码")),
            Regexp(r"^[A-Za-z0-9]{1,16}$", message=_l("部门编码只能是 1 至 16 位字母或数字")),
        ],
        description=_l("1 至 16 位字母或数字，如 GA；创建后不能修改"),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )


# ---------------------------------------------------------------------------- material types


class MaterialTypeForm(AdminForm):
    name = StringField(
        _l("材料名称"),
        validators=[
            DataRequired(_l("请填写材料名称")),
            Length(max=100, message=_l("材料名称最多 100 个字")),
        ],
    )
    category = StringField(
        _l("材料分类"),
        validators=[Length(max=40, message=_l("材料分类最多 40 个字"))],
        description=_l("如：身份证明、户籍证明、房产证明"),
    )
    description = TextAreaField(
        _l("材料说明"), validators=[Length(max=2000, message=_l("材料说明最多 2000 个字"))]
    )
    source = RadioField(
        _l("来源渠道"),
        choices=choices(SOURCE_LABELS),
        default="self",
        validators=[InputRequired(CHOICE_MESSAGE)],
    )
    licence_type_code = StringField(
        _l("电子证照类型代码"),
        validators=[Length(max=40, message=_l("电子证照类型代码最多 40 位"))],
        description=_l("政府部门核发的材料必填，用于从电子证照库调取"),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    validity_kind = RadioField(
        _l("有效期规则"),
        choices=choices(VALIDITY_LABELS),
        default="none",
        validators=[InputRequired(CHOICE_MESSAGE)],
    )
    validity_months = IntField(
        _l("有效月数"),
        validators=[Optional(), NumberRange(min=1, max=120, message=_l("有效月数为 1 至 120"))],
        description=_l("选择“签发后若干个月内有效”时填写，如近期免冠照片 6、收入证明 3"),
    )
    blank_form = FileField(
        _l("空白表格"),
        description=_l("PDF、PNG 或 JPEG 文件；不更换请留空"),
        render_kw={"accept": ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"},
    )
    example = FileField(
        _l("示例样表"),
        description=_l("PDF、PNG 或 JPEG 文件；不更换请留空"),
        render_kw={"accept": ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"},
    )


class MaterialTypeCreateForm(MaterialTypeForm):
    code = StringField(
        _l("材料编码"),
        validators=[
            DataRequired(_l("请填写材料编码")),
            Regexp(r"^[A-Za-z0-9]{1,16}$", message=_l("材料编码只能是 1 至 16 位字母或数字")),
        ],
        description=_l("1 至 16 位字母或数字，如 M001；创建后不能修改"),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )


# ---------------------------------------------------------------------------- items


ITEM_CODE_FIELD = dict(
    validators=[
        DataRequired(_l("请填写事项编码")),
        Regexp(r"^[0-9A-Za-z]{12}$", message=_l("事项编码为 12 位字母或数字")),
    ],
    description=_l("12 位字母或数字（基本编码），创建后不能修改"),
    render_kw={"autocomplete": "off", "spellcheck": "false"},
)
NAME_VALIDATORS = [
    DataRequired(_l("请填写事项名称")),
    Length(max=200, message=_l("事项名称最多 200 个字")),
]


class ItemCreateForm(AdminForm):
    code = StringField(_l("事项编码"), **ITEM_CODE_FIELD)
    name = StringField(_l("事项名称"), validators=NAME_VALIDATORS)
    department_id = SelectField(
        _l("实施主体"),
        coerce=int,
        invalid_choice_message=CHOICE_MESSAGE,
        invalid_value_message=CHOICE_MESSAGE,
    )
    item_type = SelectField(
        _l("事项类型"),
        choices=choices(ITEM_TYPE_LABELS),
        default="public_service",
        invalid_choice_message=CHOICE_MESSAGE,
    )
    audience = RadioField(
        _l("服务对象"),
        choices=choices(AUDIENCE_LABELS),
        default="person",
        validators=[InputRequired(CHOICE_MESSAGE)],
    )


class RowForm(Form):
    remove = BooleanField(_l("删除这一行"))


class StepRow(RowForm):
    name = StringField(
        _l("环节名称"),
        validators=[Length(max=100, message=_l("最多 100 个字"))],
        description=_l("如：受理、审核、决定、办结"),
    )
    role = SelectField(
        _l("办理人员"),
        choices=choices(STEP_ROLE_LABELS),
        default="counter",
        invalid_choice_message=CHOICE_MESSAGE,
    )
    limit = IntField(
        _l("环节时限（日）"),
        validators=[Optional(), NumberRange(min=0, max=3650, message=_l("时限为 0 至 3650 日"))],
    )


class FeeRow(RowForm):
    name = StringField(_l("收费项目"), validators=[Length(max=100, message=_l("最多 100 个字"))])
    standard = StringField(
        _l("收费标准"), validators=[Length(max=500, message=_l("最多 500 个字"))]
    )
    basis = StringField(_l("收费依据"), validators=[Length(max=500, message=_l("最多 500 个字"))])


class FaqRow(RowForm):
    q = StringField(_l("问题"), validators=[Length(max=300, message=_l("最多 300 个字"))])
    a = TextAreaField(_l("解答"), validators=[Length(max=2000, message=_l("最多 2000 个字"))])


def _row_list(row: type[Form], label: Any) -> FieldList:
    return FieldList(FormField(row), label=label, max_entries=MAX_ROWS + 10)


class GuideForm(AdminForm):
    """Every field of the 办事指南 but the application form and the materials (own pages)."""

    lock = LockField()
    name = StringField(_l("事项名称"), validators=NAME_VALIDATORS)
    item_type = SelectField(
        _l("事项类型"), choices=choices(ITEM_TYPE_LABELS), invalid_choice_message=CHOICE_MESSAGE
    )
    audience = RadioField(
        _l("服务对象"), choices=choices(AUDIENCE_LABELS), validators=[InputRequired(CHOICE_MESSAGE)]
    )
    themes = MultiCheckboxField(
        _l("主题分类"),
        coerce=int,
        invalid_choice_message=CHOICE_MESSAGE,
        description=_l("可选多个"),
    )
    department_id = SelectField(
        _l("实施主体"),
        coerce=int,
        invalid_choice_message=CHOICE_MESSAGE,
        invalid_value_message=CHOICE_MESSAGE,
    )
    legal_basis = TextAreaField(
        _l("设定依据"),
        validators=[Length(max=5000, message=_l("最多 5000 个字"))],
        description=_l("法律、法规、规章的名称和条款"),
    )
    conditions = TextAreaField(
        _l("受理条件"), validators=[Length(max=5000, message=_l("最多 5000 个字"))]
    )
    legal_limit = IntField(
        _l("法定办结时限"),
        validators=[Optional(), NumberRange(min=0, max=3650, message=_l("时限为 0 至 3650"))],
    )
    legal_limit_unit = RadioField(
        _l("法定办结时限单位"),
        choices=choices(UNIT_LABELS),
        validators=[InputRequired(CHOICE_MESSAGE)],
    )
    promised_limit = IntField(
        _l("承诺办结时限"),
        validators=[Optional(), NumberRange(min=0, max=3650, message=_l("时限为 0 至 3650"))],
        description=_l("不能超过法定办结时限；即办件填 0"),
    )
    promised_limit_unit = RadioField(
        _l("承诺办结时限单位"),
        choices=choices(UNIT_LABELS),
        validators=[InputRequired(CHOICE_MESSAGE)],
    )
    case_type = RadioField(
        _l("办件类型"),
        choices=choices(CASE_TYPE_LABELS),
        validators=[InputRequired(CHOICE_MESSAGE)],
    )
    steps = _row_list(StepRow, _l("办理流程"))
    add_steps = SubmitField(_l("增加办理环节行"))
    visits = IntField(
        _l("到办事现场次数"),
        validators=[
            InputRequired(_l("请填写到办事现场次数")),
            NumberRange(min=0, max=10, message=_l("到现场次数为 0 至 10 次")),
        ],
    )
    visits_reason = TextAreaField(
        _l("到现场的原因"),
        validators=[Length(max=5000, message=_l("最多 5000 个字"))],
        description=_l("到现场次数大于 0 时必填，如：需要本人到场采集指纹"),
    )
    online_depth = SelectField(
        _l("网上办理深度"),
        coerce=int,
        choices=choices(ONLINE_DEPTH_LABELS),
        invalid_choice_message=CHOICE_MESSAGE,
        invalid_value_message=CHOICE_MESSAGE,
    )
    location = TextAreaField(
        _l("办理地点"), validators=[Length(max=5000, message=_l("最多 5000 个字"))]
    )
    hours = StringField(_l("办理时间"), validators=[Length(max=200, message=_l("最多 200 个字"))])
    phone = StringField(
        _l("咨询电话"),
        validators=[Length(max=40, message=_l("最多 40 个字"))],
        render_kw={"inputmode": "tel", "autocomplete": "off"},
    )
    complaint_phone = StringField(
        _l("监督投诉电话"),
        validators=[Length(max=40, message=_l("最多 40 个字"))],
        render_kw={"inputmode": "tel", "autocomplete": "off"},
    )
    fees = _row_list(FeeRow, _l("收费"))
    add_fees = SubmitField(_l("增加收费项目行"))
    result_name = StringField(
        _l("审批结果名称"), validators=[Length(max=200, message=_l("最多 200 个字"))]
    )
    result_type = RadioField(
        _l("审批结果类型"),
        choices=choices(RESULT_TYPE_LABELS),
        validators=[InputRequired(CHOICE_MESSAGE)],
    )
    result_licence_type_code = StringField(
        _l("审批结果的电子证照类型"),
        validators=[Length(max=40, message=_l("最多 40 位"))],
        description=_l("结果是电子证照时填写其类型代码，办结后自动发到申请人的卡包"),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    result_term = StringField(
        _l("审批结果有效期"),
        validators=[Length(max=20, message=_l("最多 20 个字"))],
        description=_l("如“1年”“10年”“6个月”或“长期”；电子证照的有效期自签发之日起按此计算"),
        render_kw={"autocomplete": "off"},
    )
    delivery_methods = MultiCheckboxField(
        _l("送达方式"),
        choices=choices(DELIVERY_KINDS),
        description=_l("申请人可选的方式；不选则为电子送达和窗口领取"),
    )
    faqs = _row_list(FaqRow, _l("常见问题"))
    add_faqs = SubmitField(_l("增加常见问题行"))
    keywords = TextAreaField(
        _l("检索关键词"),
        validators=[Length(max=2000, message=_l("最多 2000 个字"))],
        description=_l("每行一个，或用逗号、顿号分开"),
    )
    synonyms = TextAreaField(
        _l("同义词"),
        validators=[Length(max=2000, message=_l("最多 2000 个字"))],
        description=_l("群众的说法，如“生孩子”“换驾照”；每行一个"),
    )
    commitment_text = TextAreaField(
        _l("告知承诺书"),
        validators=[Length(max=5000, message=_l("最多 5000 个字"))],
        description=_l("可用告知承诺代替材料时，申请人签署的承诺内容"),
    )
    kiosk_enabled = BooleanField(_l("可在自助终端办理"))

    ROW_FIELDS = ("steps", "fees", "faqs")

    @classmethod
    def initial(cls, version) -> dict[str, Any]:
        data: dict[str, Any] = {
            field: getattr(version, field)
            for field in (
                "name",
                "item_type",
                "audience",
                "department_id",
                "legal_basis",
                "conditions",
                "legal_limit",
                "legal_limit_unit",
                "promised_limit",
                "promised_limit_unit",
                "case_type",
                "visits",
                "visits_reason",
                "online_depth",
                "location",
                "hours",
                "phone",
                "complaint_phone",
                "result_name",
                "result_type",
                "result_licence_type_code",
                "commitment_text",
                "kiosk_enabled",
            )
        }
        data["lock"] = version.lock_version
        data["result_term"] = term_label(version.result_term)
        data["delivery_methods"] = list(version.delivery_methods or [])
        data["themes"] = [t.id for t in version.themes]
        data["steps"] = [
            {"name": s.get("name", ""), "role": s.get("role", "counter"), "limit": s.get("limit")}
            for s in version.steps or []
        ]
        data["fees"] = [
            {k: f.get(k, "") for k in ("name", "standard", "basis")} for f in version.fees or []
        ]
        data["faqs"] = [{"q": f.get("q", ""), "a": f.get("a", "")} for f in version.faqs or []]
        data["keywords"] = "\n".join(version.keywords or [])
        data["synonyms"] = "\n".join(version.synonyms or [])
        return data

    def guide(self) -> dict[str, Any]:
        """The guide fields as services.catalogue.update_draft takes them."""
        data = {
            name: getattr(self, name).data
            for name in (
                "name",
                "item_type",
                "audience",
                "department_id",
                "legal_basis",
                "conditions",
                "legal_limit",
                "legal_limit_unit",
                "promised_limit",
                "promised_limit_unit",
                "case_type",
                "visits",
                "visits_reason",
                "online_depth",
                "location",
                "hours",
                "phone",
                "complaint_phone",
                "result_name",
                "result_type",
                "result_licence_type_code",
                "commitment_text",
            )
        }
        data["kiosk_enabled"] = bool(self.kiosk_enabled.data)
        data["result_term"] = (self.result_term.data or "").strip()
        data["delivery_methods"] = list(self.delivery_methods.data or []) or None
        data["steps"] = self.collect_rows(
            "steps",
            lambda r: {"name": r.name.data, "role": r.role.data, "limit": r.limit.data},
            lambda r: not (r.name.data or "").strip() and r.limit.data is None,
        )
        data["fees"] = self.collect_rows(
            "fees",
            lambda r: {"name": r.name.data, "standard": r.standard.data, "basis": r.basis.data},
            lambda r: not any((x.data or "").strip() for x in (r.name, r.standard, r.basis)),
        )
        data["faqs"] = self.collect_rows(
            "faqs",
            lambda r: {"q": r.q.data, "a": r.a.data},
            lambda r: not (r.q.data or "").strip() and not (r.a.data or "").strip(),
        )
        data["keywords"] = split_words(self.keywords.data)
        data["synonyms"] = split_words(self.synonyms.data)
        return data


# ---------------------------------------------------------------------------- materials of a draft


class RequirementForm(AdminForm):
    lock = LockField()
    material_type_id = SelectField(
        _l("材料类型"),
        coerce=int,
        invalid_choice_message=CHOICE_MESSAGE,
        invalid_value_message=CHOICE_MESSAGE,
        description=_l("从材料目录中选择；目录里没有的，请先到“材料目录”新增"),
    )
    original = RadioField(
        _l("原件或复印件"),
        choices=[
            SelectChoice("1", ORIGINAL_LABELS[True]),
            SelectChoice("0", ORIGINAL_LABELS[False]),
        ],
        default="1",
        validators=[InputRequired(CHOICE_MESSAGE)],
    )
    form = RadioField(
        _l("材料形式"),
        choices=choices(MEDIUM_LABELS),
        default="electronic",
        validators=[InputRequired(CHOICE_MESSAGE)],
    )
    copies = IntField(
        _l("份数"),
        default=1,
        validators=[
            InputRequired(_l("请填写份数")),
            NumberRange(min=1, max=99, message=_l("份数为 1 至 99")),
        ],
    )
    necessity = RadioField(
        _l("材料必要性"),
        choices=choices(NECESSITY_LABELS),
        default="required",
        validators=[InputRequired(CHOICE_MESSAGE)],
    )
    condition = SelectField(
        _l("适用情形"),
        invalid_choice_message=CHOICE_MESSAGE,
        description=_l("只在某个情形下才需要的材料，选择该情形；情形在“申请表”页设置"),
    )
    notes = TextAreaField(
        _l("填报须知"), validators=[Length(max=2000, message=_l("最多 2000 个字"))]
    )
    acceptance_standard = TextAreaField(
        _l("受理标准"),
        validators=[Length(max=2000, message=_l("最多 2000 个字"))],
        description=_l("窗口人员审查这份材料时看什么"),
    )
    commitment_allowed = BooleanField(_l("可用告知承诺代替"))

    @staticmethod
    def condition_choices(condition_questions: list[dict]) -> list[SelectChoice]:
        options = [SelectChoice("", _l("所有情形都需要"))]
        for cq in condition_questions or []:
            for value, label in cq.get("options", []):
                options.append(
                    SelectChoice(f"{cq['key']}={value}", f"{cq.get('label', cq['key'])}：{label}")
                )
        return options

    @classmethod
    def initial(cls, req, lock: int) -> dict[str, Any]:
        cond = req.condition or {}
        return {
            "lock": lock,
            "material_type_id": req.material_type_id,
            "original": "1" if req.original else "0",
            "form": req.form,
            "copies": req.copies,
            "necessity": req.necessity,
            "notes": req.notes,
            "condition": f"{cond['question']}={cond['equals']}" if cond else "",
            "acceptance_standard": req.acceptance_standard,
            "commitment_allowed": req.commitment_allowed,
        }

    def values(self) -> dict[str, Any]:
        question, sep, equals = (self.condition.data or "").partition("=")
        return {
            "material_type_id": self.material_type_id.data,
            "original": self.original.data == "1",
            "form": self.form.data,
            "copies": self.copies.data,
            "necessity": self.necessity.data,
            "condition": {"question": question, "equals": equals} if sep else None,
            "notes": self.notes.data,
            "acceptance_standard": self.acceptance_standard.data,
            "commitment_allowed": bool(self.commitment_allowed.data),
        }


class LockedActionForm(AdminForm):
    """A button that changes a draft: only the CSRF token and the draft's lock number."""

    lock = LockField()


class MoveForm(LockedActionForm):
    offset = HiddenField()


# ---------------------------------------------------------------------------- application form


KEY_FIELD = dict(
    validators=[
        Optional(),
        Regexp(r"^[a-z][a-z0-9_]{0,39}$", message=_l("以小写字母开头，只含小写字母、数字和下划线")),
    ],
    render_kw={"autocomplete": "off", "spellcheck": "false"},
)


class QuestionRow(RowForm):
    key = StringField(_l("字段名"), description=_l("英文，如 name、delivery"), **KEY_FIELD)
    label = StringField(_l("问题"), validators=[Length(max=200, message=_l("最多 200 个字"))])
    type = SelectField(
        _l("类型"),
        choices=choices(QUESTION_TYPE_LABELS),
        default="text",
        invalid_choice_message=CHOICE_MESSAGE,
    )
    required = BooleanField(_l("必填"))
    options = TextAreaField(
        _l("选项"),
        validators=[Length(max=2000, message=_l("最多 2000 个字"))],
        description=_l("单选、多选时填写：每行一个，格式“值=显示文字”"),
    )
    help = StringField(_l("填写说明"), validators=[Length(max=300, message=_l("最多 300 个字"))])
    min = IntField(_l("最小值"), validators=[Optional()])
    max = IntField(_l("最大值"), validators=[Optional()])
    max_length = IntField(
        _l("最多字数"),
        validators=[Optional(), NumberRange(min=1, max=5000, message=_l("为 1 至 5000"))],
    )
    prefill = SelectField(
        _l("自动填入"),
        choices=[SelectChoice("", _l("不自动填入")), *choices(PREFILL_LABELS)],
        default="",
        invalid_choice_message=CHOICE_MESSAGE,
    )
    rules = TextAreaField(
        _l("校验规则"),
        validators=[Length(max=2000, message=_l("最多 2000 个字"))],
        description=_l(
            '可不填。JSON，如 {"required_if": {"question": "delivery", "equals": "post"}}；'
            "写法见本节开头的“校验规则的写法”"
        ),
        render_kw={"spellcheck": "false", "rows": 2},
    )

    def validate_rules(self, field: Any) -> None:
        if (field.data or "").strip():
            try:
                value = json.loads(field.data)
            except ValueError:
                raise wtforms.ValidationError(_l("校验规则不是有效的 JSON")) from None
            if not isinstance(value, dict):
                raise wtforms.ValidationError(_l("校验规则须为一个 JSON 对象，用 { } 括起来"))


def format_rules(rules: dict[str, Any] | None) -> str:
    return json.dumps(rules, ensure_ascii=False) if rules else ""


def parse_rules(text: str | None) -> dict[str, Any] | None:
    """The row's rules as JSON (``QuestionRow.validate_rules`` has refused anything else)."""
    return json.loads(text) if (text or "").strip() else None


class ConditionRow(RowForm):
    key = StringField(_l("字段名"), description=_l("英文，如 married"), **KEY_FIELD)
    label = StringField(
        _l("情形问题"),
        validators=[Length(max=200, message=_l("最多 200 个字"))],
        description=_l("如：您是否已婚？"),
    )
    options = TextAreaField(
        _l("选项"),
        validators=[Length(max=2000, message=_l("最多 2000 个字"))],
        description=_l("每行一个，格式“值=显示文字”，如 yes=是"),
    )


class ApplicationFormForm(AdminForm):
    lock = LockField()
    questions = _row_list(QuestionRow, _l("申请表问题"))
    add_questions = SubmitField(_l("增加问题行"))
    condition_questions = _row_list(ConditionRow, _l("情形问题"))
    add_condition_questions = SubmitField(_l("增加情形问题行"))

    ROW_FIELDS = ("questions", "condition_questions")

    @classmethod
    def initial(cls, version) -> dict[str, Any]:
        questions = []
        for q in version.questions or []:
            questions.append(
                {
                    "key": q.get("key", ""),
                    "label": q.get("label", ""),
                    "type": q.get("type", "text"),
                    "required": bool(q.get("required")),
                    "options": format_options(q.get("options")),
                    "help": q.get("help", ""),
                    "min": q.get("min"),
                    "max": q.get("max"),
                    "max_length": q.get("max_length"),
                    "prefill": q.get("prefill") or "",
                    "rules": format_rules(q.get("rules")),
                }
            )
        conditions = [
            {
                "key": c.get("key", ""),
                "label": c.get("label", ""),
                "options": format_options(c.get("options")),
            }
            for c in version.condition_questions or []
        ]
        return {
            "lock": version.lock_version,
            "questions": questions,
            "condition_questions": conditions,
        }

    def values(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        questions = self.collect_rows(
            "questions",
            lambda r: {
                "key": r.key.data,
                "label": r.label.data,
                "type": r.type.data,
                "required": bool(r.required.data),
                "options": parse_options(r.options.data),
                "help": r.help.data,
                "min": r.min.data,
                "max": r.max.data,
                "max_length": r.max_length.data,
                "prefill": r.prefill.data or None,
                "rules": parse_rules(r.rules.data),
            },
            lambda r: not (r.key.data or "").strip() and not (r.label.data or "").strip(),
        )
        conditions = self.collect_rows(
            "condition_questions",
            lambda r: {
                "key": r.key.data,
                "label": r.label.data,
                "options": parse_options(r.options.data),
            },
            lambda r: not (r.key.data or "").strip() and not (r.label.data or "").strip(),
        )
        return questions, conditions


# ---------------------------------------------------------------------------- versions


class DiffForm(Form):
    """Choose two versions to compare (a GET form: it changes nothing)."""

    a = SelectField(
        _l("旧版本"),
        coerce=int,
        invalid_choice_message=CHOICE_MESSAGE,
        invalid_value_message=CHOICE_MESSAGE,
    )
    b = SelectField(
        _l("新版本"),
        coerce=int,
        invalid_choice_message=CHOICE_MESSAGE,
        invalid_value_message=CHOICE_MESSAGE,
    )


class SearchForm(Form):
    q = StringField(
        _l("按名称或编码查找"),
        validators=[Optional(), Length(max=100)],
        render_kw={"type": "search", "autocomplete": "off"},
    )


# ---------------------------------------------------------------------------- bundles


class BundleForm(AdminForm):
    code = StringField(
        _l("一件事编码"),
        validators=[
            DataRequired(_l("请填写一件事编码")),
            Regexp(r"^[A-Za-z0-9]{1,16}$", message=_l("一件事编码只能是 1 至 16 位字母或数字")),
        ],
        description=_l("1 至 16 位字母或数字，如 B001"),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    name = StringField(
        _l("一件事名称"),
        validators=[
            DataRequired(_l("请填写一件事名称")),
            Length(max=100, message=_l("一件事名称最多 100 个字")),
        ],
        description=_l("如：出生一件事"),
    )
    description = TextAreaField(
        _l("一件事说明"), validators=[Length(max=5000, message=_l("最多 5000 个字"))]
    )
    theme_id = SelectField(
        _l("主题分类"),
        coerce=int,
        invalid_choice_message=CHOICE_MESSAGE,
        invalid_value_message=CHOICE_MESSAGE,
    )
    items = TextAreaField(
        _l("包含的事项"),
        validators=[DataRequired(_l("请填写包含的事项编码"))],
        description=_l("每行一个事项编码，按办理顺序排列，至少两个；参与的部门由事项自动得出"),
        render_kw={"spellcheck": "false", "rows": 8},
    )

    def item_codes(self) -> list[str]:
        return split_words(self.items.data)

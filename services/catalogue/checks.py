"""The checks a department, material type, guide or requirement must pass.

Every check collects its field errors in a ``Checks`` so the admin sees them all at once;
``publish_errors`` lists everything that keeps a version from being published.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.extensions import db
from portal.models import Department, ItemVersion, MaterialType
from services import delivery
from services.answer_rules import check_rules
from services.catalogue.common import clean_text
from services.catalogue.vocabulary import (
    AUDIENCES,
    CASE_TYPES,
    CHOICE_TYPES,
    FIELD_LABELS,
    GUIDE_FIELDS,
    ITEM_TYPES,
    MEDIA,
    NECESSITIES,
    ONLINE_DEPTHS,
    PREFILL_FIELDS,
    QUESTION_TYPES,
    RESULT_TYPES,
    STEP_ROLES,
    UNITS,
)
from services.errors import ValidationError

ITEM_CODE_RE = re.compile(r"^[0-9A-Za-z]{12}$")
SHORT_CODE_RE = re.compile(r"^[A-Z0-9]{1,16}$")
LICENCE_CODE_RE = re.compile(r"^[0-9A-Za-z]{1,40}$")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
PHONE_RE = re.compile(r"^[0-9+\-() ,、转]{3,40}$")


# 填报须知 words telling the applicant the material need not be prepared: such a material must
# not be one the application form demands (必要 or 容缺后补), or the guide and the form disagree
NOT_PREPARED = ("不用提前准备", "无需提前准备", "不用准备", "无需准备", "不需要准备", "不必准备")
DEMANDED = ("required", "deferrable")

MAX_LIMIT_DAYS = 3650
MAX_VISITS = 10
MAX_ROWS = 50
LONG_TEXT = 5000


class Checks:
    """Collects every field error of one call, so the admin sees them all at once."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def fail(self, field: str, message: Any) -> None:
        self.errors.setdefault(field, str(message))

    def done(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)

    def text(
        self, field: str, value: Any, label: Any, *, max_len: int, required: bool = False
    ) -> str:
        text = clean_text(value)
        if required and not text:
            self.fail(field, _l("请填写%(field)s", field=label))
        elif len(text) > max_len:
            self.fail(field, _l("%(field)s最多 %(n)d 个字", field=label, n=max_len))
        return text

    def choice(self, field: str, value: Any, allowed: Iterable, label: Any) -> Any:
        if value not in tuple(allowed):
            self.fail(field, _l("请从列表中选择%(field)s", field=label))
        return value

    def integer(
        self,
        field: str,
        value: Any,
        label: Any,
        *,
        minimum: int,
        maximum: int,
        required: bool = False,
    ) -> int | None:
        if value is None or value == "":
            if required:
                self.fail(field, _l("请填写%(field)s", field=label))
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                value = int(str(value).strip())
            except ValueError:
                self.fail(field, _l("%(field)s须为整数", field=label))
                return None
        if value < minimum:
            if minimum == 0:
                self.fail(field, _l("%(field)s不能为负数", field=label))
            else:
                self.fail(field, _l("%(field)s不能小于 %(n)d", field=label, n=minimum))
        elif value > maximum:
            self.fail(field, _l("%(field)s不能超过 %(n)d", field=label, n=maximum))
        return value

    def phone(self, field: str, value: Any, label: Any, *, required: bool = False) -> str:
        text = self.text(field, value, label, max_len=40, required=required)
        if text and field not in self.errors and not PHONE_RE.fullmatch(text):
            self.fail(field, _l("%(field)s只能包含数字、空格、括号和连字符", field=label))
        return text


def in_natural_days(value: int, unit: str) -> float:
    """Compare limits across units conservatively: a working day is at least one natural day."""
    return float(value) if unit == "natural" else float(value) * 7 / 5


def _check_rows(
    checks: Checks, field: str, rows: Any, columns: dict[str, tuple[Any, int, bool]]
) -> list[dict[str, Any]]:
    """Rows of short texts: ``columns`` maps a key to (label, max length, required)."""
    if not isinstance(rows, list):
        checks.fail(field, _l("%(field)s格式不正确", field=FIELD_LABELS[field]))
        return []
    if len(rows) > MAX_ROWS:
        checks.fail(field, _l("%(field)s最多 %(n)d 行", field=FIELD_LABELS[field], n=MAX_ROWS))
    cleaned = []
    for i, row in enumerate(rows):
        row = row if isinstance(row, dict) else {}
        cleaned.append(
            {
                key: checks.text(
                    f"{field}-{i}-{key}", row.get(key), label, max_len=max_len, required=required
                )
                for key, (label, max_len, required) in columns.items()
            }
        )
    return cleaned


def _check_steps(checks: Checks, rows: Any) -> list[dict[str, Any]]:
    cleaned = _check_rows(checks, "steps", rows, {"name": (_l("环节名称"), 100, True)})
    for i, (row, raw) in enumerate(
        zip(cleaned, rows if isinstance(rows, list) else [], strict=False)
    ):
        raw = raw if isinstance(raw, dict) else {}
        row["role"] = checks.choice(f"steps-{i}-role", raw.get("role"), STEP_ROLES, _l("办理人员"))
        row["limit"] = checks.integer(
            f"steps-{i}-limit", raw.get("limit"), _l("环节时限"), minimum=0, maximum=MAX_LIMIT_DAYS
        )
        if raw.get("kind") in delivery.KINDS:  # 受理 / 审查 / 制证 / 送达, when declared
            row["kind"] = raw["kind"]
    return cleaned


def _check_words(checks: Checks, field: str, words: Any) -> list[str]:
    """Keywords or synonyms: short phrases, de-duplicated, in the order given."""
    if not isinstance(words, list):
        checks.fail(field, _l("%(field)s格式不正确", field=FIELD_LABELS[field]))
        return []
    cleaned: list[str] = []
    for word in words:
        text = clean_text(word)
        if not text or text in cleaned:
            continue
        if len(text) > 40:
            checks.fail(field, _l("每个%(field)s最多 40 个字", field=FIELD_LABELS[field]))
        cleaned.append(text)
    if len(cleaned) > MAX_ROWS:
        checks.fail(field, _l("%(field)s最多 %(n)d 个", field=FIELD_LABELS[field], n=MAX_ROWS))
    return cleaned


def _check_options(checks: Checks, field: str, options: Any) -> list[list[str]]:
    """[[value, label], …] with distinct non-empty values."""
    cleaned: list[list[str]] = []
    seen: set[str] = set()
    for pair in options or []:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            checks.fail(field, _l("选项格式不正确"))
            continue
        value, label = clean_text(pair[0]), clean_text(pair[1]) or clean_text(pair[0])
        if not value or len(value) > 40 or len(label) > 100:
            checks.fail(field, _l("选项的值最多 40 个字，显示文字最多 100 个字"))
        elif value in seen:
            checks.fail(field, _l("选项“%(value)s”重复了", value=value))
        seen.add(value)
        cleaned.append([value, label])
    return cleaned


def check_form(
    checks: Checks, questions: Any, condition_questions: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The application form: its questions and its 情形 questions, with distinct keys."""
    keys: set[str] = set()

    def key_of(field: str, raw: Any) -> str:
        key = clean_text(raw)
        if not KEY_RE.fullmatch(key):
            checks.fail(field, _l("字段名以小写字母开头，只含小写字母、数字和下划线，最多 40 位"))
        elif key in keys:
            checks.fail(field, _l("字段名“%(key)s”重复了", key=key))
        keys.add(key)
        return key

    out_questions: list[dict[str, Any]] = []
    for i, raw in enumerate(questions if isinstance(questions, list) else []):
        raw = raw if isinstance(raw, dict) else {}
        p = f"questions-{i}-"
        q: dict[str, Any] = {
            "key": key_of(p + "key", raw.get("key")),
            "label": checks.text(
                p + "label", raw.get("label"), _l("问题"), max_len=200, required=True
            ),
            "type": checks.choice(p + "type", raw.get("type"), QUESTION_TYPES, _l("类型")),
            "required": bool(raw.get("required")),
            "prefill": raw.get("prefill") or None,
            "help": checks.text(p + "help", raw.get("help"), _l("填写说明"), max_len=300),
        }
        if q["prefill"] is not None:
            checks.choice(p + "prefill", q["prefill"], PREFILL_FIELDS, _l("自动填入"))
        if q["type"] in CHOICE_TYPES:
            q["options"] = _check_options(checks, p + "options", raw.get("options"))
            if not q["options"]:
                checks.fail(p + "options", _l("单选或多选的问题至少要有一个选项"))
        for key, label in (("min", _l("最小值")), ("max", _l("最大值"))):
            value = checks.integer(p + key, raw.get(key), label, minimum=-(10**12), maximum=10**12)
            if value is not None:
                q[key] = value
        if "min" in q and "max" in q and q["min"] > q["max"]:
            checks.fail(p + "max", _l("最大值不能小于最小值"))
        max_length = checks.integer(
            p + "max_length", raw.get("max_length"), _l("最多字数"), minimum=1, maximum=LONG_TEXT
        )
        if max_length is not None:
            q["max_length"] = max_length
        if raw.get("rules"):
            q["rules"] = raw["rules"]
        out_questions.append(q)
    if len(out_questions) > MAX_ROWS:
        checks.fail(
            "questions", _l("%(field)s最多 %(n)d 行", field=FIELD_LABELS["questions"], n=MAX_ROWS)
        )

    out_conditions: list[dict[str, Any]] = []
    for i, raw in enumerate(condition_questions if isinstance(condition_questions, list) else []):
        raw = raw if isinstance(raw, dict) else {}
        p = f"condition_questions-{i}-"
        cq = {
            "key": key_of(p + "key", raw.get("key")),
            "label": checks.text(
                p + "label", raw.get("label"), _l("情形问题"), max_len=200, required=True
            ),
            "options": _check_options(checks, p + "options", raw.get("options")),
        }
        if not cq["options"]:
            checks.fail(p + "options", _l("情形问题至少要有一个选项"))
        out_conditions.append(cq)
    if len(out_conditions) > MAX_ROWS:
        checks.fail(
            "condition_questions",
            _l("%(field)s最多 %(n)d 行", field=FIELD_LABELS["condition_questions"], n=MAX_ROWS),
        )
    for field, message in check_rules(out_questions, out_conditions).items():
        checks.fail(field, message)
    return out_questions, out_conditions


def check_guide(
    checks: Checks, guide: dict[str, Any], current: ItemVersion | None = None
) -> dict[str, Any]:
    """Validate and normalise the guide fields given (a draft may still be incomplete:
    completeness is checked at publishing, by ``publish_errors``)."""
    unknown = set(guide) - set(GUIDE_FIELDS)
    if unknown:
        raise ValueError(f"not guide fields: {sorted(unknown)}")
    g, out = guide, {}
    label = FIELD_LABELS
    if "name" in g:
        out["name"] = checks.text("name", g["name"], label["name"], max_len=200, required=True)
    for field in ("legal_basis", "conditions", "location", "visits_reason", "commitment_text"):
        if field in g:
            out[field] = checks.text(field, g[field], label[field], max_len=LONG_TEXT)
    for field in ("hours", "result_name"):
        if field in g:
            out[field] = checks.text(field, g[field], label[field], max_len=200)
    for field in ("phone", "complaint_phone"):
        if field in g:
            out[field] = checks.phone(field, g[field], label[field]) if clean_text(g[field]) else ""
    for field, allowed in (
        ("item_type", ITEM_TYPES),
        ("audience", AUDIENCES),
        ("legal_limit_unit", UNITS),
        ("promised_limit_unit", UNITS),
        ("case_type", CASE_TYPES),
        ("result_type", RESULT_TYPES),
        ("online_depth", ONLINE_DEPTHS),
    ):
        if field in g:
            out[field] = checks.choice(field, g[field], allowed, label[field])
    for field in ("legal_limit", "promised_limit"):
        if field in g:
            out[field] = checks.integer(
                field, g[field], label[field], minimum=0, maximum=MAX_LIMIT_DAYS
            )
    if "visits" in g:
        out["visits"] = checks.integer(
            "visits", g["visits"], label["visits"], minimum=0, maximum=MAX_VISITS, required=True
        )
    if "department_id" in g:
        dept = (
            db.session.get(Department, g["department_id"])
            if isinstance(g["department_id"], int)
            else None
        )
        unchanged = current is not None and current.department_id == g["department_id"]
        if dept is None or not (dept.active or unchanged):
            checks.fail("department_id", _l("请选择一个在用的实施主体"))
        out["department_id"] = g["department_id"]
    if "result_licence_type_code" in g:
        code = clean_text(g["result_licence_type_code"])
        if code and not LICENCE_CODE_RE.fullmatch(code):
            checks.fail(
                "result_licence_type_code", _l("电子证照类型代码只能是 1 至 40 位字母或数字")
            )
        out["result_licence_type_code"] = code or None
    if "steps" in g:
        out["steps"] = _check_steps(checks, g["steps"])
    if "result_term" in g:
        try:
            out["result_term"] = delivery.parse_term(g["result_term"])
        except ValueError:
            checks.fail("result_term", _l("有效期请写成“1年”“6个月”或“长期”"))
    if "delivery_methods" in g:
        try:
            methods = g["delivery_methods"]
            out["delivery_methods"] = delivery.check_methods(methods) if methods else None
        except ValueError:
            checks.fail("delivery_methods", _l("请至少选择一种送达方式"))
    if "fees" in g:
        out["fees"] = _check_rows(
            checks,
            "fees",
            g["fees"],
            {
                "name": (_l("收费项目"), 100, True),
                "standard": (_l("收费标准"), 500, False),
                "basis": (_l("收费依据"), 500, False),
            },
        )
    if "faqs" in g:
        out["faqs"] = _check_rows(
            checks, "faqs", g["faqs"], {"q": (_l("问题"), 300, True), "a": (_l("解答"), 2000, True)}
        )
    for field in ("keywords", "synonyms"):
        if field in g:
            out[field] = _check_words(checks, field, g[field])
    if "questions" in g or "condition_questions" in g:
        questions, conditions = check_form(
            checks,
            g.get("questions", current.questions if current else []),
            g.get("condition_questions", current.condition_questions if current else []),
        )
        if "questions" in g:
            out["questions"] = questions
        if "condition_questions" in g:
            out["condition_questions"] = conditions
    if "auto_rules" in g:
        out["auto_rules"] = list(g["auto_rules"] or [])
    if "kiosk_enabled" in g:
        out["kiosk_enabled"] = bool(g["kiosk_enabled"])

    def merged(field: str) -> Any:
        return out[field] if field in out else getattr(current, field, None)

    legal, promised = merged("legal_limit"), merged("promised_limit")
    legal_unit, promised_unit = merged("legal_limit_unit"), merged("promised_limit_unit")
    if (
        isinstance(legal, int)
        and isinstance(promised, int)
        and legal_unit in UNITS
        and promised_unit in UNITS
        and "legal_limit" not in checks.errors
        and "promised_limit" not in checks.errors
        and in_natural_days(promised, promised_unit) > in_natural_days(legal, legal_unit)
    ):
        checks.fail("promised_limit", _l("承诺办结时限不能超过法定办结时限"))
    return out


def check_requirement(version: ItemVersion, values: dict[str, Any]) -> dict[str, Any]:
    checks = Checks()
    type_id = values.get("material_type_id")
    if not isinstance(type_id, int) or db.session.get(MaterialType, type_id) is None:
        checks.fail("material_type_id", _l("请从材料目录中选择材料类型"))
    out: dict[str, Any] = {
        "material_type_id": type_id,
        "original": bool(values.get("original")),
        "form": checks.choice("form", values.get("form"), MEDIA, _l("材料形式")),
        "copies": checks.integer(
            "copies", values.get("copies"), _l("份数"), minimum=1, maximum=99, required=True
        ),
        "necessity": checks.choice(
            "necessity", values.get("necessity"), NECESSITIES, _l("材料必要性")
        ),
        "notes": checks.text("notes", values.get("notes"), _l("填报须知"), max_len=2000),
        "acceptance_standard": checks.text(
            "acceptance_standard", values.get("acceptance_standard"), _l("受理标准"), max_len=2000
        ),
        "commitment_allowed": bool(values.get("commitment_allowed")),
        "condition": None,
    }
    cond = values.get("condition")
    if cond:
        options = {
            cq["key"]: {value for value, _ in cq.get("options", [])}
            for cq in version.condition_questions or []
        }
        if not isinstance(cond, dict) or cond.get("equals") not in options.get(
            cond.get("question"), set()
        ):
            checks.fail("condition", _l("请从本事项的情形问题中选择适用情形"))
        else:
            out["condition"] = {"question": cond["question"], "equals": cond["equals"]}
    checks.done()
    return out


def publish_errors(version: ItemVersion) -> dict[str, str]:
    """Every reason the version cannot be published, keyed by the field at fault."""
    errors: dict[str, str] = {}
    required = {
        "name": _l("事项名称"),
        "legal_basis": _l("设定依据"),
        "conditions": _l("受理条件"),
        "location": _l("办理地点"),
        "hours": _l("办理时间"),
        "phone": _l("咨询电话"),
    }
    for field, label in required.items():
        if not str(getattr(version, field) or "").strip():
            errors[field] = str(_l("%(field)s不能为空", field=label))
    for field, label in (
        ("legal_limit", _l("法定办结时限")),
        ("promised_limit", _l("承诺办结时限")),
    ):
        value = getattr(version, field)
        if value is None:
            errors[field] = str(_l("%(field)s不能为空", field=label))
        elif value < 0:
            errors[field] = str(_l("%(field)s不能为负数", field=label))
    if version.item_type not in ITEM_TYPES:
        errors["item_type"] = str(_l("事项类型不正确"))
    if version.legal_limit_unit not in UNITS or version.promised_limit_unit not in UNITS:
        errors["promised_limit_unit"] = str(_l("时限单位只能是工作日或自然日"))
    elif (
        "legal_limit" not in errors
        and "promised_limit" not in errors
        and in_natural_days(version.promised_limit, version.promised_limit_unit)
        > in_natural_days(version.legal_limit, version.legal_limit_unit)
    ):
        errors["promised_limit"] = str(_l("承诺办结时限不能超过法定办结时限"))
    if version.visits is None or version.visits < 0:
        errors["visits"] = str(_l("到办事现场次数不能为负数"))
    elif version.visits > 0 and not (version.visits_reason or "").strip():
        errors["visits_reason"] = str(_l("到办事现场次数大于 0 时必须说明原因"))
    if not version.steps:
        errors["steps"] = str(_l("请至少填写一个办理环节"))
    known_types = set(db.session.scalars(select(MaterialType.id)))
    condition_keys = {q.get("key") for q in version.condition_questions or []}
    for i, req in enumerate(version.requirements, start=1):
        if req.material_type_id not in known_types:
            errors[f"requirements-{i}"] = str(_l("第 %(n)d 项材料没有对应的材料类型", n=i))
        elif req.necessity not in NECESSITIES:
            errors[f"requirements-{i}"] = str(_l("第 %(n)d 项材料的必要性不正确", n=i))
        elif req.condition and req.condition.get("question") not in condition_keys:
            errors[f"requirements-{i}"] = str(_l("第 %(n)d 项材料的情形条件指向不存在的问题", n=i))
        elif req.necessity in DEMANDED and any(w in (req.notes or "") for w in NOT_PREPARED):
            errors[f"requirements-{i}"] = str(
                _l(
                    "第 %(n)d 项材料的填报须知说不用提前准备，申请表却要求提交它："
                    "请把必要性改为“非必要”或“信息免交”，或修改填报须知",
                    n=i,
                )
            )
    for field, message in check_rules(
        version.questions or [], version.condition_questions or []
    ).items():
        errors[field] = message
    return errors

"""The catalogue's vocabulary: the codes a guide stores and the one word shown for each.

One wording per term, in the words of the national guide schema (服务对象 自然人 / 法人, 办件类型
即办件 / 承诺件, 材料必要性 必要 / 非必要 / 容缺后补 / 信息免交 …). The admin pages, the public
guide, the PDFs, the forms and the diff all read these; templates reach them through the
``catalogue_label(kind, value)`` global (registered in ``portal/templating.py``).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal.models import VersionStatus

ITEM_TYPES = ("licensing", "confirmation", "benefit", "public_service", "other")
AUDIENCES = ("person", "organisation")
UNITS = ("working", "natural")
CASE_TYPES = ("instant", "promised")
STEP_ROLES = ("counter", "reviewer")
ONLINE_DEPTHS = (1, 2, 3, 4)
RESULT_TYPES = ("licence", "approval", "other")
NECESSITIES = ("required", "optional", "deferrable", "shared")
MEDIA = ("paper", "electronic")
SOURCES = ("self", "issued")
VALIDITY_KINDS = ("none", "own_expiry", "months")
QUESTION_TYPES = (
    "text",
    "number",
    "date",
    "select",
    "multiselect",
    "checkbox",
    "id_number",
    "credit_code",
    "phone",
    "address",
    "money",
)
CHOICE_TYPES = ("select", "multiselect")
PREFILL_FIELDS = ("name", "id_number", "phone", "address", "birth_date")
FILE_KINDS = ("blank_form", "example")


# guide fields copied from one version to the next, and compared field by field
GUIDE_FIELDS = (
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
    "steps",
    "visits",
    "visits_reason",
    "online_depth",
    "location",
    "hours",
    "phone",
    "complaint_phone",
    "fees",
    "result_name",
    "result_type",
    "result_licence_type_code",
    "result_term",
    "delivery_methods",
    "faqs",
    "keywords",
    "synonyms",
    "questions",
    "condition_questions",
    "commitment_text",
    "auto_rules",
    "kiosk_enabled",
)
REQUIREMENT_FIELDS = (
    "material_type_id",
    "position",
    "original",
    "form",
    "copies",
    "necessity",
    "condition",
    "notes",
    "acceptance_standard",
    "commitment_allowed",
)

# the words the admin pages, the diff and the errors use for each code value
STATUS_LABELS = {
    VersionStatus.draft: _l("草稿"),
    VersionStatus.in_review: _l("待审核"),
    VersionStatus.published: _l("已发布"),
    VersionStatus.archived: _l("已归档"),
}
ITEM_TYPE_LABELS = {
    "licensing": _l("行政许可"),
    "confirmation": _l("行政确认"),
    "benefit": _l("行政给付"),
    "public_service": _l("公共服务"),
    "other": _l("其他"),
}
AUDIENCE_LABELS = {"person": _l("自然人"), "organisation": _l("法人")}
UNIT_LABELS = {"working": _l("工作日"), "natural": _l("自然日")}
CASE_TYPE_LABELS = {"instant": _l("即办件"), "promised": _l("承诺件")}
STEP_ROLE_LABELS = {"counter": _l("综合窗口人员"), "reviewer": _l("审批人员")}
ONLINE_DEPTH_LABELS = {1: _l("事项公开"), 2: _l("在线预审"), 3: _l("在线办理"), 4: _l("全程网办")}
RESULT_TYPE_LABELS = {"licence": _l("证照"), "approval": _l("批文"), "other": _l("其他")}
NECESSITY_LABELS = {
    "required": _l("必要"),
    "optional": _l("非必要"),
    "deferrable": _l("容缺后补"),
    "shared": _l("信息免交"),
}
MEDIUM_LABELS = {"paper": _l("纸质"), "electronic": _l("电子")}
ORIGINAL_LABELS = {True: _l("原件"), False: _l("复印件")}
SOURCE_LABELS = {"self": _l("申请人自备"), "issued": _l("政府部门核发")}
VALIDITY_LABELS = {
    "none": _l("长期有效"),
    "own_expiry": _l("以证件自身的有效期为准"),
    "months": _l("签发后若干个月内有效"),
}
QUESTION_TYPE_LABELS = {
    "text": _l("文字"),
    "number": _l("数字"),
    "date": _l("日期"),
    "select": _l("单选"),
    "multiselect": _l("多选"),
    "checkbox": _l("勾选确认"),
    "id_number": _l("身份证号"),
    "credit_code": _l("统一社会信用代码"),
    "phone": _l("手机号"),
    "address": _l("地址"),
    "money": _l("金额"),
}
PREFILL_LABELS = {
    "name": _l("姓名"),
    "id_number": _l("身份证号"),
    "phone": _l("手机号"),
    "address": _l("常住地址"),
    "birth_date": _l("出生日期"),
}
FILE_KIND_LABELS = {"blank_form": _l("空白表格"), "example": _l("示例样表")}
FIELD_LABELS = {
    "name": _l("事项名称"),
    "item_type": _l("事项类型"),
    "audience": _l("服务对象"),
    "themes": _l("主题分类"),
    "department_id": _l("实施主体"),
    "legal_basis": _l("设定依据"),
    "conditions": _l("受理条件"),
    "legal_limit": _l("法定办结时限"),
    "legal_limit_unit": _l("法定办结时限单位"),
    "promised_limit": _l("承诺办结时限"),
    "promised_limit_unit": _l("承诺办结时限单位"),
    "case_type": _l("办件类型"),
    "steps": _l("办理流程"),
    "visits": _l("到办事现场次数"),
    "visits_reason": _l("到现场的原因"),
    "online_depth": _l("网上办理深度"),
    "location": _l("办理地点"),
    "hours": _l("办理时间"),
    "phone": _l("咨询电话"),
    "complaint_phone": _l("监督投诉电话"),
    "fees": _l("收费"),
    "result_name": _l("审批结果名称"),
    "result_type": _l("审批结果类型"),
    "result_licence_type_code": _l("审批结果的电子证照类型"),
    "result_term": _l("审批结果有效期"),
    "delivery_methods": _l("送达方式"),
    "faqs": _l("常见问题"),
    "keywords": _l("检索关键词"),
    "synonyms": _l("同义词"),
    "questions": _l("申请表问题"),
    "condition_questions": _l("情形问题"),
    "commitment_text": _l("告知承诺书"),
    "auto_rules": _l("自动审批规则"),
    "kiosk_enabled": _l("可在自助终端办理"),
}

# every label table by the kind a template names in catalogue_label(kind, value)
LABELS: dict[str, dict] = {
    "status": STATUS_LABELS,
    "item_type": ITEM_TYPE_LABELS,
    "audience": AUDIENCE_LABELS,
    "unit": UNIT_LABELS,
    "case_type": CASE_TYPE_LABELS,
    "role": STEP_ROLE_LABELS,
    "online_depth": ONLINE_DEPTH_LABELS,
    "result_type": RESULT_TYPE_LABELS,
    "necessity": NECESSITY_LABELS,
    "medium": MEDIUM_LABELS,
    "original": ORIGINAL_LABELS,
    "source": SOURCE_LABELS,
    "validity": VALIDITY_LABELS,
    "question_type": QUESTION_TYPE_LABELS,
    "prefill": PREFILL_LABELS,
    "file_kind": FILE_KIND_LABELS,
    "field": FIELD_LABELS,
}


def catalogue_label(kind: str, value: object) -> str:
    """The word for ``value`` of ``kind`` in the current language (the value itself if unknown)."""
    label = LABELS[kind].get(value)
    if label is not None:
        return str(label)
    return "" if value is None else str(value)

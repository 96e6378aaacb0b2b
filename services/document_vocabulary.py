"""The document library's vocabulary (材料库 / 卡包): the codes it stores and the one word for each.

Pure vocabulary: no queries and no imports from other services, so the case core, the views and
the templates can all read it. Templates reach it through the ``document_label(kind, value)``
global (registered in ``portal/templating.py``).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# trust grade of a document (国办函〔2016〕108号): how far it may be reused
GRADE_LABELS = {
    "A": _l("电子证照"),
    "B": _l("已核验原件"),
    "C": _l("未核验上传"),
    "D": _l("本人承诺"),
}
# how the document came into the library
SOURCE_LABELS = {
    "upload": _l("本人上传"),
    "elicence": _l("部门签发"),
    "counter": _l("窗口核验"),
    "commitment": _l("本人承诺"),
}
# a document's state in the library, as of today
STATE_LABELS = {
    "valid": _l("有效"),
    "expiring": _l("即将过期"),
    "expired": _l("已过期"),
    "revoked": _l("已撤销"),
}
# the public e-licence check (/verify)
VERIFY_OUTCOME_LABELS = {
    "valid": _l("有效"),
    "expired": _l("已过期"),
    "cancelled": _l("已注销"),
    "not_found": _l("查无此证"),
}
# who did what with a citizen's documents or personal data (数据使用记录)
DATA_USE_ACTION_LABELS = {
    "view_document": _l("查看材料"),
    "download_document": _l("下载材料"),
    "reuse_document": _l("复用材料"),
    "reveal_personal_data": _l("查看个人信息"),
}
# why (数据使用记录): services.data_use.REASONS
DATA_USE_REASON_LABELS = {
    "case_review": _l("审查您的办件"),
    "counter_service": _l("窗口当面为您办事"),
    "authorised_agent": _l("您授权的代办人代办"),
    "case_reuse": _l("办件复用已有材料，免于重复提交"),
}
# in which role (数据使用记录)
DATA_USE_ROLE_LABELS = {
    "reviewer": _l("审批人员"),
    "counter": _l("综合窗口人员"),
    "admin": _l("系统管理员"),
    "agent": _l("代办人"),
    "system": _l("系统"),
}
# how a required material of a case was obtained (减材料 counts all but upload and missing)
SATISFIED_BY_LABELS = {
    "elicence": _l("复用电子证照"),
    "library": _l("复用材料库"),
    "upload": _l("本次上传"),
    "commitment": _l("告知承诺"),
    "shared": _l("部门共享获取"),
    "deferred": _l("容缺后补"),
    "missing": _l("未提供"),
}

# every label table by the kind a template names in document_label(kind, value)
LABELS: dict[str, dict] = {
    "grade": GRADE_LABELS,
    "source": SOURCE_LABELS,
    "state": STATE_LABELS,
    "verify_outcome": VERIFY_OUTCOME_LABELS,
    "data_use_action": DATA_USE_ACTION_LABELS,
    "data_use_reason": DATA_USE_REASON_LABELS,
    "data_use_role": DATA_USE_ROLE_LABELS,
    "satisfied_by": SATISFIED_BY_LABELS,
}


def document_label(kind: str, value: object) -> str:
    """The word for ``value`` of ``kind`` in the current language (the value itself if unknown)."""
    label = LABELS[kind].get(value)
    if label is not None:
        return str(label)
    return "" if value is None else str(value)

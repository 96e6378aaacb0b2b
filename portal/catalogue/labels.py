"""Chinese labels (translatable) for the catalogue's stored codes, for templates and PDFs."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

LABELS: dict[str, dict] = {
    "item_type": {
        "licensing": _l("行政许可"),
        "confirmation": _l("行政确认"),
        "benefit": _l("行政给付"),
        "public_service": _l("公共服务"),
        "other": _l("其他"),
    },
    "unit": {"working": _l("工作日"), "natural": _l("自然日")},
    "online_depth": {1: _l("事项公开"), 2: _l("在线预审"), 3: _l("在线办理"), 4: _l("全程网办")},
    "audience": {"person": _l("个人"), "organisation": _l("法人")},
    "case_type": {"instant": _l("即办件"), "promised": _l("承诺件")},
    "necessity": {
        "required": _l("必要"),
        "optional": _l("非必要"),
        "deferrable": _l("容缺后补"),
        "shared": _l("信息免交"),
    },
    "form": {"paper": _l("纸质"), "electronic": _l("电子")},
    "original": {True: _l("原件"), False: _l("复印件")},
    "role": {"counter": _l("综合窗口"), "reviewer": _l("审批人员"), "system": _l("系统自动")},
    "result_type": {"licence": _l("证照"), "approval": _l("批文"), "other": _l("其他")},
    "source": {"self": _l("申请人自备"), "issued": _l("政府部门核发")},
}


def catalogue_label(kind: str, value) -> str:
    """The label of ``value`` in ``kind`` (falls back to the value itself)."""
    label = LABELS.get(kind, {}).get(value)
    return str(label) if label is not None else str(value if value is not None else "")

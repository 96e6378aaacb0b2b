"""The states of a case (办件状态), the sets the rules are written in, and their labels.

Pure vocabulary: no queries and no imports from other services, so every service (and the
templates) can read it without pulling in the workflow. The transitions between these states
are declared in ``services/workflow.py`` (``TRANSITIONS``).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

DRAFT = "draft"
SUBMITTED = "submitted"

OPEN_STATES = (
    "submitted",
    "correction_required",
    "accepted",
    "accepted_pending_materials",
    "accepted_on_commitment",
    "in_review",
    "suspended",
)
# 准予 made, the result not yet delivered (services/delivery.py): 制证中, then waiting for 出件
# at a counter, for staff to post it, or posted and not yet received ("approved" is the moment
# between the decision and the first of these, or a case decided before they existed)
DELIVERY_STATES = ("approved", "certifying", "awaiting_pickup", "awaiting_post", "mailed")
# states in which the department still owes the citizen something
STAFF_OPEN_STATES = (*OPEN_STATES, *DELIVERY_STATES)
DECIDED_STATES = (
    *DELIVERY_STATES,
    "denied",
    "completed",
    "not_accepted",
    "withdrawn",
    "terminated",
)
# the case is closed: nothing more will happen on it (a document it used may be deleted)
CLOSED_STATES = ("completed", "denied", "not_accepted", "withdrawn", "terminated")
# the promised time limit runs (时限计时)
CLOCK_STATES = ("accepted", "accepted_pending_materials", "accepted_on_commitment", "in_review")
RATEABLE_STATES = ("completed", "denied", "not_accepted")

STATE_LABELS = {
    "draft": _l("草稿"),
    "submitted": _l("已提交"),
    "correction_required": _l("待补正"),
    "accepted": _l("已受理"),
    "accepted_pending_materials": _l("容缺受理"),
    "accepted_on_commitment": _l("承诺受理"),
    "in_review": _l("审查中"),
    "suspended": _l("特别程序"),
    "approved": _l("准予许可"),
    "certifying": _l("制证中"),
    "awaiting_pickup": _l("待领取"),
    "awaiting_post": _l("待邮寄"),
    "mailed": _l("已寄出"),
    "denied": _l("不予许可"),
    "not_accepted": _l("不予受理"),
    "withdrawn": _l("已撤回"),
    "terminated": _l("已终止"),
    "completed": _l("已办结"),
}

CONFLICT_MESSAGE = _l("该办件已被他人处理，请刷新后重试")
STATE_MESSAGE = _l("该办件当前状态不能进行此操作")

SUSPENSION_KINDS = {"hearing": _l("听证"), "inspection": _l("现场核查"), "expert": _l("专家评审")}
# how the result reaches the applicant, as they chose when applying (services/delivery.py)
DELIVERY_KINDS = {
    "online": _l("电子送达"),
    "pickup": _l("窗口领取"),
    "post": _l("邮寄送达"),
}
# the kinds of a guide's 办理流程 steps: 受理, 审核 (the last of these is 决定), 制证, 送达
STEP_KINDS = {
    "accept": _l("受理"),
    "review": _l("审查"),
    "certify": _l("制证"),
    "deliver": _l("送达"),
}


def state_label(status: str) -> str:
    """The citizen-facing name of a state (the code itself for an unknown one)."""
    label = STATE_LABELS.get(status)
    return str(label) if label is not None else status

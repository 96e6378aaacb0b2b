"""办件进度: the words for every kind of event recorded on a case, and which of them the
citizen's timeline leaves out. The case pages of the citizen and of the reviewer both read
their labels here (templates/apply/_labels.html); tests/portal/test_timeline_labels.py fails
when a kind the code records has no label here."""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_gettext as _l

from services.case_states import STATE_LABELS
from services.ratings import TICKET_STATES

# a workflow step whose own name says more than the state it leads to (details["action"])
ACTION_LABELS = {
    "resume": _l("结束特别程序"),
    "suspend": _l("启动特别程序"),
    "materials_complete": _l("容缺材料已补齐，开始审查"),
    "start_review": _l("开始审查"),
    "approve_instantly": _l("即办：受理并准予"),
    "terminate_false_commitment": _l("承诺不实，终止办理"),
    "terminate_deferral": _l("逾期未补齐容缺材料，终止办理"),
    "complete_bundle": _l("各分项办件均已办结"),
    # 送达 (services/delivery.py): how the result reached the applicant
    "deliver_online": _l("电子送达，办结"),
    "pickup": _l("窗口出件，办结"),
    "confirm_receipt": _l("邮寄送达，申请人确认收到，办结"),
}
# events that are not a state of the case (audit.record_event(kind, application_id=…))
EVENT_LABELS = {
    "claim": _l("认领办件"),
    "assign": _l("指派办理人"),
    "advance_step": _l("进入下一环节"),
    "certify": _l("制证完成"),
    "deliver": _l("送达"),
    "licence_revoked": _l("电子证照已注销"),
    "supply_materials": _l("补交容缺材料"),
    "material_verdict": _l("材料审核"),
    "auto_check": _l("系统自动审核（秒批）"),
    "visit": _l("到现场"),
    "deemed_accepted": _l("超过 5 个工作日未答复，视为受理"),
    "overdue": _l("超过承诺办结日"),
    "due_date_recalculated": _l("法定节假日安排更新，承诺办结日重新计算"),
    "rated": _l("评价"),
    "correction_exception": _l("管理员登记再次补正的例外"),
    "post_check_passed": _l("告知承诺核查属实"),
    "personal_data_revealed": _l("工作人员查看完整身份信息"),
    "appointment_contact_revealed": _l("窗口人员查看预约人的完整手机号"),
    "resubmit": _l("补正后重新提交"),
    "agent_authorisation": _l("窗口登记代理人的授权委托书"),
    "counter_offline_intake": _l("窗口代为提交线下收取的材料"),
    "counter_access_refused": _l("窗口人员打开非本人接待群众的办件，已拒绝"),
    # a background worker attached a notice's PDF (services/notices.render_notice)
    "notice_rendered": _l("通知书已生成"),
    # 叫号 in the hall, for a ticket taken for this case
    "queue_call": _l("大厅叫号"),
    "queue_recall": _l("大厅再次叫号"),
    "queue_return": _l("过号后重新叫号"),
    "queue_skip": _l("叫号未到，已过号"),
    "queue_serve": _l("窗口开始办理"),
    "queue_done": _l("窗口办理完毕"),
    **{
        f"ticket_{status}": _l("差评处理：%(status)s", status=label)
        for status, label in TICKET_STATES.items()
    },
}
# security events about staff, not about the citizen's case: on the reviewer's page only
HIDDEN_FROM_CITIZEN = frozenset({"counter_access_refused"})


def known_label(kind: str, details: Mapping | None = None) -> str | None:
    """The words for an event of ``kind`` in the current language, or None for an unknown kind."""
    action = (details or {}).get("action")
    label = ACTION_LABELS.get(action) or EVENT_LABELS.get(kind) or STATE_LABELS.get(kind)
    return str(label) if label is not None else None


def event_kind_label(kind: str, details: Mapping | None = None) -> str:
    """As ``known_label``; an unknown kind (never expected: a test lists them all) reads as a
    generic 办件记录 rather than as an internal key."""
    return known_label(kind, details) or str(_l("办件记录"))

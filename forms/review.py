"""Forms of the reviewer workspace, the 好差评 form and the admin's follow-up forms.

The case page holds several forms at once, each with its own prefix so that ids stay unique;
the CSRF token comes from the global CSRFProtect (one hidden input per form), so these forms
do not add a second one with a duplicate id.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from forms.base import PortalForm
from services.delivery import CARRIERS
from services.ratings import INDICATORS, SCORES, TAGS
from services.visits import VISIT_KINDS
from services.workflow import SUSPENSION_KINDS, VERDICTS


def choices(mapping) -> list[SelectChoice]:
    return [SelectChoice(str(key), label) for key, label in mapping.items()]


class ActionForm(PortalForm):
    class Meta:
        csrf = False  # CSRFProtect checks every POST; see the module docstring


class OpinionForm(ActionForm):
    opinion = TextAreaField(
        _l("审查意见"),
        validators=[Optional(), Length(max=500)],
        description=_l("选填，将写入决定书"),
    )


class DeferredAcceptanceForm(ActionForm):
    supply_deadline = DateField(
        _l("补齐材料期限"),
        validators=[InputRequired(_l("请填写补齐材料的期限"))],
        description=_l("不能晚于承诺办结日"),
    )


class NotAcceptForm(ActionForm):
    reason = TextAreaField(
        _l("不予受理的理由"), validators=[DataRequired(_l("请写明不予受理的理由")), Length(max=500)]
    )
    refer_to = StringField(
        _l("应向哪个部门申请"),
        validators=[DataRequired(_l("请写明应向哪个部门申请")), Length(max=200)],
        description=_l("将写入不予受理通知书，告诉申请人去哪里办"),
    )


class DenyForm(ActionForm):
    reasons = TextAreaField(
        _l("不予许可的理由"),
        validators=[DataRequired(_l("不予许可必须写明理由")), Length(max=2000)],
        description=_l("决定书将写明理由，并告知申请复议和提起诉讼的途径"),
    )


class SuspendForm(ActionForm):
    kind = RadioField(
        _l("特别程序"),
        choices=choices(SUSPENSION_KINDS),
        validators=[InputRequired(_l("请选择特别程序的种类"))],
    )
    reason = TextAreaField(
        _l("启动理由"), validators=[DataRequired(_l("请写明启动特别程序的理由")), Length(max=500)]
    )
    expected_days = IntegerField(
        _l("预计所需天数"),
        validators=[
            InputRequired(_l("请填写 1 至 60 之间的预计天数")),
            NumberRange(1, 60, _l("请填写 1 至 60 之间的预计天数")),
        ],
        description=_l("特别程序所需时间不计入办理时限"),
    )


class MailForm(ActionForm):
    """邮寄: the carrier and its waybill number, which the applicant sees on the case page."""

    carrier = SelectField(
        _l("快递公司"),
        choices=[SelectChoice("", _l("请选择")), *choices(CARRIERS)],
        validators=[InputRequired(_l("请选择承运的快递公司"))],
    )
    tracking = StringField(
        _l("运单号"),
        validators=[DataRequired(_l("请填写运单号")), Length(max=40)],
        description=_l("8 至 30 位字母或数字，申请人会看到"),
    )


class RevokeForm(ActionForm):
    reason = TextAreaField(
        _l("注销理由"),
        validators=[DataRequired(_l("请写明注销的理由")), Length(max=500)],
        description=_l("记入审计日志；核验页面只显示“已注销”和注销日期，不显示理由"),
    )


class AssignForm(ActionForm):
    assignee_id = SelectField(_l("指派给"), validators=[InputRequired(_l("请选择审批人员"))])


class FinalStepForm(ActionForm):
    """Advancing a step may hand the case to a colleague."""

    assignee_id = SelectField(_l("下一环节由谁办理"), validators=[Optional()])


class VerdictForm(ActionForm):
    verdict = RadioField(
        _l("审核意见"), choices=choices(VERDICTS), validators=[InputRequired(_l("请选择审核意见"))]
    )
    reason = StringField(
        _l("需补正的理由"),
        validators=[Optional(), Length(max=500)],
        description=_l("选“需补正”时必填，申请人会看到"),
    )


class VisitForm(ActionForm):
    kind = SelectField(
        _l("到场事由"),
        choices=choices(VISIT_KINDS),
        validators=[InputRequired(_l("请选择到场事由"))],
    )
    reason = StringField(
        _l("说明"),
        validators=[Optional(), Length(max=300)],
        description=_l("超过办事指南承诺的到场次数时必须说明原因"),
    )


class PostCheckForm(ActionForm):
    outcome = RadioField(
        _l("核查结果"),
        choices=[SelectChoice("passed", _l("承诺属实")), SelectChoice("false", _l("承诺不实"))],
        validators=[InputRequired(_l("请选择核查结果"))],
    )
    note = TextAreaField(
        _l("核查说明"),
        validators=[Optional(), Length(max=500)],
        description=_l("承诺不实时必填，将写入终止办理通知书"),
    )


class CorrectionExceptionForm(PortalForm):
    case = StringField(
        _l("办件编号"), validators=[DataRequired(_l("请填写办件编号")), Length(max=32)]
    )
    reason = TextAreaField(
        _l("例外理由"),
        validators=[DataRequired(_l("请写明需要再次补正的理由")), Length(max=500)],
        description=_l("例外会计入统计"),
    )


class TicketForm(ActionForm):
    to_status = SelectField(_l("下一步"), validators=[InputRequired(_l("请选择下一步"))])
    note = TextAreaField(
        _l("处理说明"), validators=[DataRequired(_l("请填写处理说明")), Length(max=500)]
    )


class VerifyNoticeForm(PortalForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    code = StringField(
        _l("核验码"),
        validators=[DataRequired(_l("请填写核验码")), Length(max=120)],
        description=_l(
            "通知书底部的核验码，或通知书编号加文件 SHA-256 的前 8 位以上，中间用“-”连接"
        ),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )


SCORE_CHOICES = [SelectChoice(str(k), f"{label}（{k}）") for k, label in SCORES.items()]


class VisitRatingForm(PortalForm):
    """一次一评: the rating of one in-person visit (the online rating adds indicators and tags)."""

    score = RadioField(
        _l("总体评价"), choices=SCORE_CHOICES, validators=[InputRequired(_l("请选择评价"))]
    )
    comment = TextAreaField(
        _l("意见和建议"),
        validators=[Optional(), Length(max=500)],
        description=_l("选填，最多 500 字"),
    )


class RatingForm(VisitRatingForm):
    def indicator_fields(self):
        return [getattr(self, f"i_{key}") for key in INDICATORS]

    def tag_fields(self):
        return [getattr(self, f"t_{key}") for key in TAGS]


for _key, _label in INDICATORS.items():
    setattr(
        RatingForm,
        f"i_{_key}",
        RadioField(_label, choices=SCORE_CHOICES, validators=[InputRequired(_l("请选择评价"))]),
    )
for _key, _label in TAGS.items():
    setattr(RatingForm, f"t_{_key}", BooleanField(_label))

# the decision forms the case page offers, by workflow action
ACTION_FORMS: dict[str, type[ActionForm]] = {
    "accept": ActionForm,
    "accept_pending_materials": DeferredAcceptanceForm,
    "accept_on_commitment": ActionForm,
    "approve_instantly": OpinionForm,
    "not_accept": NotAcceptForm,
    "materials_complete": ActionForm,
    "start_review": ActionForm,
    "advance_step": FinalStepForm,
    "suspend": SuspendForm,
    "resume": ActionForm,
    "approve": OpinionForm,
    "deny": DenyForm,
    "certify": ActionForm,
    "deliver": ActionForm,
    "mail": MailForm,
    "confirm_receipt": ActionForm,
    "claim": ActionForm,
    "assign": AssignForm,
}

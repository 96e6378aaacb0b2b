"""秒批: items whose rules can be checked from verified data are decided at submission.

An item version declares ``auto_rules``:
- ``{"kind": "min_age", "value": 60}``: the applicant's age from the 身份证号 is at least 60;
- ``{"kind": "elicence", "material": "M001"}``: the applicant holds a valid grade-A document
  (an e-licence) of that catalogue material type;
- ``{"kind": "answer_in", "question": key, "values": [...]}``: the answer to a 情形 (or form)
  question is one of the given values.
Each rule is evaluated and recorded with the data it read. If every rule passes, the case is
accepted, approved and completed in the submitting transaction and the licence is issued;
otherwise it goes to normal review with the failed rules shown to the reviewer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    Application,
    Document,
    DocumentStatus,
    ELicence,
    Event,
    Grade,
    MaterialType,
)
from services import audit, clock
from services.errors import ValidationError
from services.identity import parse_resident_id


@dataclass
class RuleResult:
    kind: str
    rule: dict[str, Any]
    passed: bool
    data: dict[str, Any] = field(default_factory=dict)
    explanation: str = ""


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _min_age(app: Application, rule: dict[str, Any], day: date) -> RuleResult:
    try:
        born = parse_resident_id(app.applicant.id_number).birth_date
        source = "id_number"
    except ValidationError:
        born, source = app.applicant.birth_date, "profile"
    age = age_on(born, day)
    need = int(rule.get("value", 0))
    return RuleResult(
        "min_age",
        rule,
        age >= need,
        {"birth_date": born.isoformat(), "age": age, "source": source},
        str(_l("申请人年龄 %(age)d 岁，要求不小于 %(need)d 岁", age=age, need=need)),
    )


def _elicence(app: Application, rule: dict[str, Any], day: date) -> RuleResult:
    code = str(rule.get("material", ""))
    material_type = db.session.scalar(select(MaterialType).where(MaterialType.code == code))
    name = material_type.name if material_type else code
    if material_type is None:
        return RuleResult(
            "elicence",
            rule,
            False,
            {"material": code, "found": False},
            str(_l("目录中没有材料 %(code)s", code=code)),
        )
    docs = db.session.scalars(
        select(Document)
        .where(
            Document.owner_id == app.applicant_id,
            Document.material_type_id == material_type.id,
            Document.grade == Grade.A,
            Document.status == DocumentStatus.valid,
        )
        .order_by(Document.id.desc())
    )
    for doc in docs:
        if doc.valid_until is not None and doc.valid_until < day:
            continue
        licence = db.session.scalar(select(ELicence).where(ELicence.document_id == doc.id))
        if licence is not None and licence.status != "valid":
            continue
        return RuleResult(
            "elicence",
            rule,
            True,
            {
                "material": code,
                "document_id": doc.id,
                "licence_number": licence.number if licence else None,
                "valid_until": doc.valid_until.isoformat() if doc.valid_until else None,
            },
            str(_l("持有有效的%(name)s电子证照", name=name)),
        )
    return RuleResult(
        "elicence",
        rule,
        False,
        {"material": code, "found": False},
        str(_l("没有有效的%(name)s电子证照", name=name)),
    )


def _answer_in(app: Application, rule: dict[str, Any], day: date) -> RuleResult:
    key = str(rule.get("question", ""))
    values = [str(v) for v in rule.get("values", [])]
    answers = {**(app.form_data or {}), **(app.condition_answers or {})}
    answer = answers.get(key)
    passed = answer is not None and str(answer) in values
    version = app.item_version
    question = next(
        (
            q
            for q in [*(version.condition_questions or []), *(version.questions or [])]
            if q.get("key") == key
        ),
        {"label": key},
    )
    labels = {str(o[0]): str(o[1]) for o in question.get("options") or []}
    return RuleResult(
        "answer_in",
        rule,
        passed,
        {"question": key, "answer": answer},
        str(
            _l(
                "“%(key)s”的回答为 %(answer)s，要求为 %(values)s之一",
                key=question["label"],
                answer=labels.get(str(answer), answer) if answer is not None else "—",
                values="、".join(labels.get(v, v) for v in values),
            )
        ),
    )


CHECKS = {"min_age": _min_age, "elicence": _elicence, "answer_in": _answer_in}


def evaluate_rules(app: Application, day: date | None = None) -> list[RuleResult]:
    day = day or clock.local_today()
    results = []
    for rule in app.item_version.auto_rules or []:
        check = CHECKS.get(rule.get("kind"))
        if check is None:
            results.append(
                RuleResult(
                    str(rule.get("kind")), rule, False, {}, str(_l("不认识的规则，转人工审查"))
                )
            )
        else:
            results.append(check(app, rule, day))
    return results


def check_automatically(app: Application) -> tuple[bool, list[dict[str, Any]]]:
    """Evaluate the item's rules right after submission and record the check: (all passed,
    the results as recorded). An item without rules, or a case no longer just submitted, is
    not checked (False, []). The workflow approves the case when they all pass
    (services/workflow.after_submission)."""
    if app.item_version is None or not app.item_version.auto_rules or app.status != "submitted":
        return False, []
    with force_locale("zh_CN"):  # the record reads the same whoever submitted
        results = evaluate_rules(app)
    passed = all(r.passed for r in results)
    recorded = [asdict(r) for r in results]
    audit.record_event(
        "auto_check",
        actor=None,
        application_id=app.id,
        details={"passed": passed, "rules": recorded},
    )
    return passed, recorded


def failed_rules(application_id: int) -> list[dict[str, Any]]:
    """The rules the latest automatic check failed, for the reviewer's case page."""
    event = db.session.scalar(
        select(Event)
        .where(Event.application_id == application_id, Event.action == "auto_check")
        .order_by(Event.id.desc())
        .limit(1)
    )
    if event is None:
        return []
    return [r for r in event.details.get("rules", []) if not r.get("passed")]

"""送达 and the guide's steps: pure rules the workflow, the apply flow and the pages share.

- The steps a guide version declares (``ItemVersion.steps``) each have a kind: 受理 (accept),
  审查 (review; the last review step is where 决定 is taken), 制证 (certify) and 送达
  (deliver). A step may name its kind (``"kind": "certify"``); otherwise it is read from the
  step: the first counter step is 受理, a step named 制证/制卡 is 制证, a last counter step
  after the review is 送达, anything else is review.
- Each step has a limit in working days: the step's due date counts from the day the case
  entered it (services/workdays, the one working-day arithmetic).
- The delivery method is the applicant's answer to the form's ``delivery`` question (the
  items that already asked 领证方式 keep their question; ``counter`` there means 窗口领取);
  an item whose form does not ask has one method, its first offered one. 邮寄 needs an address
  (the form's ``address`` question).
- The result's term (``ItemVersion.result_term``): {"years": n}, {"months": n} or
  {"long": true} (长期); an e-licence is valid until its issue date plus the term.

No queries and no imports from the workflow, so every layer may read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from dateutil.relativedelta import relativedelta
from flask_babel import lazy_gettext as _l

from services import clock, workdays
from services.case_states import DELIVERY_KINDS

METHODS = tuple(DELIVERY_KINDS)  # online / pickup / post
DEFAULT_METHODS = ("online", "pickup")
# answers of the older 领证方式 questions, by the method they mean
ANSWER_ALIASES = {"counter": "pickup", "window": "pickup", "mail": "post"}
DELIVERY_QUESTION = "delivery"
ADDRESS_QUESTION = "address"
MAX_TERM_YEARS = 100
MAX_TERM_MONTHS = 1200

CARRIERS = {
    "ems": _l("中国邮政EMS"),
    "sf": _l("顺丰速运"),
    "post": _l("中国邮政挂号信"),
    "jd": _l("京东物流"),
}
# carriers' waybill numbers: letters and digits, 8 to 30 characters (EMS: 13, SF: 12 or 15)
TRACKING_RE = re.compile(r"[A-Z0-9]{8,30}")


# ---- the result's term ----------------------------------------------------------------------


def parse_term(value: Any) -> dict[str, Any] | None:
    """A term as stored, from "1年", "10年", "6个月", "长期" or a stored dict; None for empty.
    Raises ValueError for anything else."""
    if value is None or value == "" or value == {}:
        return None
    if isinstance(value, dict):
        if value.get("long") is True and len(value) == 1:
            return {"long": True}
        for unit, most in (("years", MAX_TERM_YEARS), ("months", MAX_TERM_MONTHS)):
            n = value.get(unit)
            if (
                len(value) == 1
                and isinstance(n, int)
                and not isinstance(n, bool)
                and 1 <= n <= most
            ):
                return {unit: n}
        raise ValueError("not a term")
    text = re.sub(r"\s", "", str(value))
    if text in ("长期", "长期有效"):
        return {"long": True}
    match = re.fullmatch(r"(\d{1,4})(年|个月|月)", text)
    if match is None:
        raise ValueError("not a term")
    n = int(match.group(1))
    unit = "years" if match.group(2) == "年" else "months"
    return parse_term({unit: n})


def term_label(term: dict[str, Any] | None) -> str:
    """The words for a stored term: 1年, 6个月, 长期 ('' when none is declared)."""
    if not term:
        return ""
    if term.get("long"):
        return str(_l("长期"))
    if "years" in term:
        return str(_l("%(n)d年", n=term["years"]))
    return str(_l("%(n)d个月", n=term["months"]))


def term_valid_until(term: dict[str, Any], issued_on: date) -> date | None:
    """The last day of validity: the issue date plus the term; None for 长期."""
    if term.get("long"):
        return None
    if "years" in term:
        return issued_on + relativedelta(years=term["years"])
    return issued_on + relativedelta(months=term["months"])


# ---- delivery methods -----------------------------------------------------------------------


def offered_methods(version: Any) -> list[str]:
    methods = [m for m in (version.delivery_methods or []) if m in METHODS]
    return methods or list(DEFAULT_METHODS)


def check_methods(value: Any) -> list[str]:
    """The methods a guide may declare: a non-empty list of known ones, in the table's order."""
    chosen = {str(v) for v in (value or [])}
    if not chosen or chosen - set(METHODS):
        raise ValueError("unknown delivery method")
    return [m for m in METHODS if m in chosen]


def chosen_method(version: Any, form_data: dict[str, Any] | None) -> str:
    """The method the applicant chose: the form's ``delivery`` answer, else the item's first."""
    answer = str((form_data or {}).get(DELIVERY_QUESTION) or "")
    answer = ANSWER_ALIASES.get(answer, answer)
    offered = offered_methods(version)
    return answer if answer in offered else offered[0]


def chosen_address(form_data: dict[str, Any] | None) -> str:
    return str((form_data or {}).get(ADDRESS_QUESTION) or "").strip()


def answer_problems(version: Any, form_data: dict[str, Any] | None) -> dict[str, str]:
    """What the apply form must refuse about delivery: 邮寄 without an address."""
    asks = {q["key"] for q in version.questions or []}
    if chosen_method(version, form_data) == "post" and not chosen_address(form_data):
        field = next(
            (f"q_{key}" for key in (ADDRESS_QUESTION, DELIVERY_QUESTION) if key in asks), ""
        )
        return {field: str(_l("选择邮寄送达时，请填写收件地址"))}
    return {}


def clean_mailing(carrier: Any, tracking: Any) -> tuple[str, str]:
    """A carrier from the list and a well-formed waybill number, or ValidationError-ready errors
    (raised as ValueError with a dict by the caller)."""
    errors: dict[str, str] = {}
    carrier = str(carrier or "").strip()
    number = re.sub(r"[\s-]", "", str(tracking or "")).upper()
    if carrier not in CARRIERS:
        errors["carrier"] = str(_l("请选择承运的快递公司"))
    if not number:
        errors["tracking"] = str(_l("请填写运单号"))
    elif not TRACKING_RE.fullmatch(number):
        errors["tracking"] = str(_l("运单号为 8 至 30 位字母或数字"))
    if errors:
        raise MailingError(errors)
    return carrier, number


class MailingError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


# ---- the guide's steps ----------------------------------------------------------------------

KINDS = ("accept", "review", "certify", "deliver")
CERTIFY_WORDS = ("制证", "制卡")


def step_kinds(steps: list[dict[str, Any]] | None) -> list[str]:
    """The kind of each declared step (see the module docstring)."""
    steps = steps or []
    kinds: list[str] = []
    for i, step in enumerate(steps):
        declared = step.get("kind")
        name = str(step.get("name", ""))
        if declared in KINDS:
            kinds.append(declared)
        elif i == 0 and step.get("role") == "counter" and len(steps) > 1:
            kinds.append("accept")
        elif any(word in name for word in CERTIFY_WORDS):
            kinds.append("certify")
        elif (
            i == len(steps) - 1
            and i > 0
            and step.get("role") == "counter"
            and any(k == "review" for k in kinds)
        ):
            kinds.append("deliver")
        else:
            kinds.append("review")
    return kinds


def decision_step(steps: list[dict[str, Any]] | None) -> int:
    """The step where 准予 / 不予 is decided: the last review step (0 when none is declared)."""
    kinds = step_kinds(steps)
    reviews = [i for i, k in enumerate(kinds) if k == "review"]
    return reviews[-1] if reviews else max(len(kinds) - 1, 0)


def step_of_kind(steps: list[dict[str, Any]] | None, kind: str) -> int | None:
    kinds = step_kinds(steps)
    return kinds.index(kind) if kind in kinds else None


@dataclass(frozen=True)
class StepClock:
    """Where a case is in its guide's steps and whether that step is late."""

    index: int
    count: int
    name: str
    role: str
    limit: int
    started_on: date | None
    due: date | None
    overdue: bool


def step_clock(app: Any, today: date | None = None) -> StepClock | None:
    """The current step, its due date (the day it started plus its limit in working days) and
    whether it is overdue today (local date); None when the guide declares no steps."""
    steps = app.item_version.steps if app.item_version is not None else None
    if not steps:
        return None
    index = min(max(app.current_step or 0, 0), len(steps) - 1)
    step = steps[index]
    limit = int(step.get("limit") or 0)
    started = app.step_started_on
    due = workdays.add_working_days(started, limit) if started is not None else None
    today = today or clock.local_today()
    return StepClock(
        index=index,
        count=len(steps),
        name=str(step.get("name", "")),
        role=str(step.get("role", "")),
        limit=limit,
        started_on=started,
        due=due,
        overdue=due is not None and today > due,
    )

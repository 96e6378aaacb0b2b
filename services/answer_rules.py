"""What an item's application form refuses: one validator for every way a form is filled in.

The online form, the counter's intake, the offline intake and every 一件事 bundle check their
answers here (``check_answers``), and the pre-check lists what it finds, all at once. The
admin editor and the publication checks refuse a rule that cannot work (``check_rules``).

Each question of ``ItemVersion.questions`` may carry ``"rules"``, a small JSON object:

``{"required_if": {"question": "delivery", "equals": "post"}}``
    必填 when another answer (of the form, or a 情形 question) has this value.
``{"date": {...}}`` (date questions), any of:
    ``"not_future": true`` no later than today; ``"not_past": true`` no earlier than today;
    ``"max_days_ahead": 15`` at most so many days after today;
    ``"not_before_birth": true`` not before the applicant's birth date;
    ``"after": "<key>"`` / ``"before": "<key>"`` strictly after / before another date answer;
    ``"min_age": 45`` the applicant is at least so many years old on this date.
``{"pattern": {"regex": "^\\d{6}$", "message": "请填写 6 位邮政编码"}}`` (text, address)
    the whole answer matches the pattern; the message is shown when it does not.
``{"differs_from": "<key>"}``
    must not equal another answer (对方的身份证号 is not one's own).

Number ranges are the question's own ``"min"`` / ``"max"`` (number and money questions).

Patterns come from admins and Python's ``re`` has no time limit, so a pattern is refused
unless it is safe by construction: at most ``MAX_PATTERN`` characters, no backreference or
lookaround, and no repeated group that itself contains a repetition or an alternative (the
shapes of catastrophic backtracking, like ``(a+)+`` or ``(a|aa)*``). Answers are at most
``MAX_TEXT`` characters anyway, so a pattern runs over a short string.

Messages are bare (“须晚于“参加工作时间””); the pages show them next to the field and the
pre-check puts the question's label in front.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l

from services.errors import ValidationError
from services.identity import normalise_phone, parse_credit_code, parse_resident_id

MAX_TEXT = 500
MAX_PATTERN = 200
RULE_KINDS = ("required_if", "date", "pattern", "differs_from")
DATE_FLAGS = ("not_future", "not_past", "not_before_birth")
DATE_KEYS = (*DATE_FLAGS, "after", "before", "min_age", "max_days_ahead")
PATTERN_TYPES = ("text", "address")


@dataclass(frozen=True)
class AnswerContext:
    """What the rules compare with besides the answers: today, the applicant's birth date and
    the 情形 answers."""

    today: date
    birth_date: date | None = None
    conditions: dict[str, Any] = field(default_factory=dict)
    condition_questions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Checked:
    clean: dict[str, Any]
    errors: dict[str, str]  # question key → message


# ---- one answer on its own ----------------------------------------------------------------


def clean_answer(q: dict[str, Any], raw: Any) -> Any:
    """Check one answer against its question's type; raises ValueError with the message."""
    kind = q.get("type", "text")
    options = {str(o[0]) for o in q.get("options", [])}
    if kind == "multiselect":
        values = [str(v) for v in (raw or [])]
        if not set(values) <= options:
            raise ValueError(str(_l("选项不正确")))
        if q.get("required") and not values:
            raise ValueError(str(_l("请至少选择一项")))
        return values
    if kind == "checkbox":
        value = raw in (True, "y", "on", "1", "true")
        if q.get("required") and not value:
            raise ValueError(str(_l("请勾选")))
        return value
    text = str(raw or "").strip()
    if any(ord(ch) < 32 for ch in text):
        raise ValueError(str(_l("含有不允许的字符")))
    if not text:
        if q.get("required"):
            raise ValueError(str(_l("此项必填")))
        return ""
    if kind in ("text", "address"):
        limit = int(q.get("max_length") or (200 if kind == "address" else MAX_TEXT))
        if len(text) > limit:
            raise ValueError(str(_l("最多 %(n)d 个字", n=limit)))
        return text
    if kind in ("number", "money"):
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(str(_l("请输入数字"))) from None
        if not number.is_finite():
            raise ValueError(str(_l("请输入数字")))
        if kind == "money" and number.as_tuple().exponent < -2:
            raise ValueError(str(_l("金额最多两位小数")))
        if kind == "number" and number != number.to_integral_value():
            raise ValueError(str(_l("请输入整数")))
        if q.get("min") is not None and number < Decimal(str(q["min"])):
            raise ValueError(str(_l("不能小于 %(n)s", n=q["min"])))
        if q.get("max") is not None and number > Decimal(str(q["max"])):
            raise ValueError(str(_l("不能大于 %(n)s", n=q["max"])))
        if kind == "money" and number < 0:
            raise ValueError(str(_l("金额不能为负数")))
        return str(number)
    if kind == "date":
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(str(_l("请按 年-月-日 填写日期")))
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueError(str(_l("日期不存在"))) from None
    if kind == "select":
        if text not in options:
            raise ValueError(str(_l("选项不正确")))
        return text
    if kind == "id_number":
        try:
            return parse_resident_id(text).number
        except ValidationError as exc:
            raise ValueError(next(iter(exc.errors.values()))) from None
    if kind == "credit_code":
        try:
            return parse_credit_code(text)
        except ValidationError as exc:
            raise ValueError(next(iter(exc.errors.values()))) from None
    if kind == "phone":
        try:
            return normalise_phone(text)
        except ValidationError as exc:
            raise ValueError(next(iter(exc.errors.values()))) from None
    raise ValueError(str(_l("不支持的题型")))


# ---- the whole form ---------------------------------------------------------------------------


def _empty(value: Any) -> bool:
    return value in (None, "", [], False)


def _option_label(question: dict[str, Any] | None, value: Any) -> str:
    for option in (question or {}).get("options") or []:
        if str(option[0]) == str(value):
            return str(option[1])
    return str(value)


def _years_between(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _date_problem(
    rule: dict[str, Any],
    value: date,
    answers: dict[str, Any],
    by_key: dict[str, dict[str, Any]],
    context: AnswerContext,
) -> str | None:
    today = context.today
    if rule.get("not_future") and value > today:
        return str(_l("不能晚于今天（%(day)s）", day=today.isoformat()))
    if rule.get("not_past") and value < today:
        return str(_l("不能早于今天（%(day)s）", day=today.isoformat()))
    days = rule.get("max_days_ahead")
    if isinstance(days, int) and value > today + timedelta(days=days):
        return str(
            _l(
                "最晚可选 %(day)s（%(n)d 天内）",
                day=(today + timedelta(days=days)).isoformat(),
                n=days,
            )
        )
    born = context.birth_date
    if rule.get("not_before_birth") and born is not None and value < born:
        return str(_l("不能早于申请人的出生日期（%(day)s）", day=born.isoformat()))
    for relation in ("after", "before"):
        other_key = rule.get(relation)
        other = answers.get(other_key) if other_key else None
        if not other_key or _empty(other):
            continue
        try:
            other_day = date.fromisoformat(str(other))
        except ValueError:
            continue
        label = by_key.get(other_key, {}).get("label", other_key)
        if relation == "after" and not value > other_day:
            return str(_l("须晚于“%(other)s”（%(day)s）", other=label, day=other_day.isoformat()))
        if relation == "before" and not value < other_day:
            return str(_l("须早于“%(other)s”（%(day)s）", other=label, day=other_day.isoformat()))
    age = rule.get("min_age")
    if isinstance(age, int) and born is not None and _years_between(born, value) < age:
        return str(
            _l(
                "申请人在这一天须年满 %(n)d 周岁（出生日期 %(day)s，当天 %(age)d 周岁）",
                n=age,
                day=born.isoformat(),
                age=max(_years_between(born, value), 0),
            )
        )
    return None


def _value_problem(
    q: dict[str, Any],
    value: Any,
    answers: dict[str, Any],
    by_key: dict[str, dict[str, Any]],
    context: AnswerContext,
) -> str | None:
    """The first rule a non-empty, well-typed answer breaks, or None."""
    rules = q.get("rules") or {}
    if q.get("type") == "date" and isinstance(rules.get("date"), dict):
        problem = _date_problem(rules["date"], date.fromisoformat(value), answers, by_key, context)
        if problem:
            return problem
    pattern = rules.get("pattern")
    if isinstance(pattern, dict) and isinstance(value, str):
        regex = compile_pattern(str(pattern.get("regex", "")))
        if regex is not None and not regex.fullmatch(value[:MAX_TEXT]):
            return str(pattern.get("message") or "") or str(_l("格式不正确"))
    other_key = rules.get("differs_from")
    if other_key and not _empty(answers.get(other_key)) and str(answers[other_key]) == str(value):
        label = by_key.get(other_key, {}).get("label", other_key)
        return str(_l("不能与“%(other)s”相同", other=label))
    return None


def required_because(
    q: dict[str, Any],
    answers: dict[str, Any],
    by_key: dict[str, dict[str, Any]],
    context: AnswerContext,
) -> str | None:
    """Why an answer is required by its ``required_if`` rule now (a message), or None."""
    rule = (q.get("rules") or {}).get("required_if")
    if not isinstance(rule, dict):
        return None
    key, wanted = rule.get("question"), rule.get("equals")
    if key in by_key:
        given, question = answers.get(key), by_key[key]
    else:
        given = context.conditions.get(key)
        question = next((c for c in context.condition_questions if c.get("key") == key), None)
    if _empty(given) or str(given) != str(wanted):
        return None
    label = question.get("label", key) if question else key
    return str(
        _l("“%(other)s”为“%(value)s”时必填", other=label, value=_option_label(question, wanted))
    )


def check_answers(
    questions: list[dict[str, Any]],
    raw: dict[str, Any],
    *,
    context: AnswerContext,
    partial: bool = False,
) -> Checked:
    """Every answer checked at once: its type, then its rules against the other answers.

    With ``partial`` (autosave, the counter keeping what the clerk typed) nothing is required
    yet, but a value that breaks a rule is still refused."""
    by_key = {q["key"]: q for q in questions}
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for q in questions:
        try:
            clean[q["key"]] = clean_answer(
                {**q, "required": q.get("required") and not partial}, raw.get(q["key"])
            )
        except ValueError as exc:
            errors[q["key"]] = str(exc)
    for q in questions:
        key = q["key"]
        if key in errors:
            continue
        if _empty(clean[key]):
            reason = None if partial else required_because(q, clean, by_key, context)
            if reason:
                errors[key] = reason
            continue
        problem = _value_problem(q, clean[key], clean, by_key, context)
        if problem:
            errors[key] = problem
    return Checked({k: v for k, v in clean.items() if k not in errors}, errors)


# ---- patterns ---------------------------------------------------------------------------------

_QUANTIFIER = re.compile(r"[*+?]|\{\d*(,\d*)?\}")


def pattern_problem(pattern: str) -> str | None:
    """Why an admin's pattern is refused, or None (see the module's docstring)."""
    if not pattern:
        return str(_l("请填写格式（正则表达式）"))
    if len(pattern) > MAX_PATTERN:
        return str(_l("格式最多 %(n)d 个字符", n=MAX_PATTERN))
    try:
        re.compile(pattern)
    except re.error:
        return str(_l("格式不是有效的正则表达式"))
    if re.search(r"\\[1-9]|\(\?P=|\(\?[=!<]", pattern):
        return str(_l("格式不能使用反向引用或前后断言"))
    # groups: for each open group, whether it holds a repetition or an alternative
    stack: list[bool] = []
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":  # a literal ] first in the class
                i += 1
        elif ch == "(":
            stack.append(False)
        elif ch == ")":
            risky = stack.pop() if stack else False
            repeat = _QUANTIFIER.match(pattern, i + 1)
            if risky and repeat and repeat.group() != "?":
                return str(_l("格式中重复的分组不能再含有重复或“|”，以免匹配时间过长"))
            if stack and (risky or repeat):
                stack[-1] = True
        elif stack and (ch == "|" or _QUANTIFIER.match(pattern, i)):
            stack[-1] = True
        i += 1
    return None


def compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """A safe pattern compiled, or None for one that ``pattern_problem`` refuses."""
    return None if pattern_problem(pattern) else re.compile(pattern)


# ---- the rules in words, for the admin's version page and the diff a reviewer reads ------------


def describe_rules(
    q: dict[str, Any],
    questions: list[dict[str, Any]],
    condition_questions: list[dict[str, Any]] = (),
) -> str:
    """A question's rules as people read them: “领证方式”为“邮寄到家”时必填；不晚于今天 …"""
    rules = q.get("rules") or {}
    if not isinstance(rules, dict):
        return ""
    every = {c.get("key"): c for c in [*condition_questions, *questions]}

    def label(key: Any) -> str:
        return str(every.get(key, {}).get("label", key))

    parts: list[str] = []
    rule = rules.get("required_if")
    if isinstance(rule, dict):
        other = every.get(rule.get("question"))
        parts.append(
            str(
                _l(
                    "“%(other)s”为“%(value)s”时必填",
                    other=label(rule.get("question")),
                    value=_option_label(other, rule.get("equals")),
                )
            )
        )
    rule = rules.get("date")
    if isinstance(rule, dict):
        if rule.get("not_future"):
            parts.append(str(_l("不晚于今天")))
        if rule.get("not_past"):
            parts.append(str(_l("不早于今天")))
        if rule.get("max_days_ahead") is not None:
            parts.append(str(_l("最多在今天之后 %(n)d 天", n=rule["max_days_ahead"])))
        if rule.get("not_before_birth"):
            parts.append(str(_l("不早于申请人的出生日期")))
        if rule.get("after"):
            parts.append(str(_l("晚于“%(other)s”", other=label(rule["after"]))))
        if rule.get("before"):
            parts.append(str(_l("早于“%(other)s”", other=label(rule["before"]))))
        if rule.get("min_age") is not None:
            parts.append(str(_l("申请人当天年满 %(n)d 周岁", n=rule["min_age"])))
    rule = rules.get("pattern")
    if isinstance(rule, dict):
        parts.append(str(_l("格式 %(regex)s", regex=rule.get("regex", ""))))
    if rules.get("differs_from"):
        parts.append(str(_l("不能与“%(other)s”相同", other=label(rules["differs_from"]))))
    return "；".join(parts)


# ---- the rules themselves, as an admin writes them ---------------------------------------------


def check_rules(
    questions: list[dict[str, Any]], condition_questions: list[dict[str, Any]]
) -> dict[str, str]:
    """Every rule that cannot work, keyed ``questions-<i>-rules`` (the editor's field): a rule
    naming a question the form does not have, a value that question cannot take, a date rule
    on a question that is not a date, an unsafe pattern."""
    errors: dict[str, str] = {}
    form = {q.get("key"): q for q in questions}
    conditions = {q.get("key"): q for q in condition_questions}
    for i, q in enumerate(questions):
        rules = q.get("rules")
        if rules in (None, {}):
            continue
        problem = _rule_problem(q, rules, form, conditions)
        if problem:
            errors[f"questions-{i}-rules"] = problem
    return errors


def _rule_problem(
    q: dict[str, Any],
    rules: Any,
    form: dict[str, dict[str, Any]],
    conditions: dict[str, dict[str, Any]],
) -> str | None:
    if not isinstance(rules, dict):
        return str(_l("校验规则须为一个 JSON 对象"))
    unknown = sorted(set(rules) - set(RULE_KINDS))
    if unknown:
        return str(_l("不认识的校验规则：%(names)s", names="、".join(unknown)))

    def missing(key: Any) -> str:
        return str(_l("校验规则用到了本申请表没有的问题“%(key)s”", key=key))

    if "required_if" in rules:
        rule = rules["required_if"]
        if (
            not isinstance(rule, dict)
            or not rule.get("question")
            or rule.get("equals") in (None, "")
        ):
            return str(_l("必填条件须写明 question 和 equals"))
        other = form.get(rule["question"]) or conditions.get(rule["question"])
        if other is None or rule["question"] == q.get("key"):
            return missing(rule["question"])
        values = {str(o[0]) for o in other.get("options") or []}
        if values and str(rule["equals"]) not in values:
            return str(
                _l(
                    "问题“%(key)s”没有选项“%(value)s”",
                    key=rule["question"],
                    value=rule["equals"],
                )
            )
    if "date" in rules:
        rule = rules["date"]
        if q.get("type") != "date":
            return str(_l("日期规则只能用于日期类型的问题"))
        if not isinstance(rule, dict) or set(rule) - set(DATE_KEYS):
            return str(_l("日期规则只能有：%(names)s", names="、".join(DATE_KEYS)))
        if any(not isinstance(rule.get(k, False), bool) for k in DATE_FLAGS):
            return str(_l("not_future、not_past、not_before_birth 只能是 true 或 false"))
        for relation in ("after", "before"):
            if relation in rule:
                other = form.get(rule[relation])
                if other is None or rule[relation] == q.get("key"):
                    return missing(rule[relation])
                if other.get("type") != "date":
                    return str(_l("“%(key)s”不是日期类型的问题", key=rule[relation]))
        for name, top in (("min_age", 150), ("max_days_ahead", 3650)):
            if name in rule and (
                isinstance(rule[name], bool)
                or not isinstance(rule[name], int)
                or not 0 <= rule[name] <= top
            ):
                return str(_l("%(name)s 须为 0 至 %(n)d 的整数", name=name, n=top))
    if "pattern" in rules:
        rule = rules["pattern"]
        if q.get("type") not in PATTERN_TYPES:
            return str(_l("格式规则只能用于文字或地址类型的问题"))
        if not isinstance(rule, dict) or set(rule) - {"regex", "message"}:
            return str(_l("格式规则须写明 regex，可加 message"))
        problem = pattern_problem(str(rule.get("regex") or ""))
        if problem:
            return problem
        if len(str(rule.get("message") or "")) > 100:
            return str(_l("格式不符时的提示最多 100 个字"))
    if "differs_from" in rules:
        other_key = rules["differs_from"]
        if other_key not in form or other_key == q.get("key"):
            return missing(other_key)
    return None

"""What the clerk typed on the counter's intake page, kept through every action on it.

The intake page is one form: a scan, the 授权委托书 and 提交 each post everything on it.
Before another action, ``keep_typed`` saves what is valid, as the online form's autosave does,
and asks for nothing yet; ``submit_typed`` saves it all and submits, reporting every problem
at once. Only a submit (保存 or 提交) brings errors.
"""

from __future__ import annotations

from typing import Any

from portal.extensions import db
from portal.models import Application, Citizen, User
from services import applications, counter, materials
from services.errors import NotFound, ValidationError
from services.identity import mask_id_number, mask_phone

# answers filled from the citizen's real-name data that the intake page shows only masked
# (取自实名信息) unless the clerk reveals them (a logged data use): never in full in the HTML
PROTECTED_PREFILL = {"id_number": mask_id_number, "phone": mask_phone}


def protected_keys(app: Application) -> dict[str, str]:
    """The form's questions prefilled with the 身份证号 or the phone: key → profile field."""
    return {
        q["key"]: q["prefill"]
        for q in app.item_version.questions or []
        if q.get("prefill") in PROTECTED_PREFILL
    }


def masked_answers(app: Application, values: dict[str, Any]) -> dict[str, str]:
    """What the page shows of each protected answer that has a value: masked."""
    return {
        key: PROTECTED_PREFILL[field](str(values[key]))
        for key, field in protected_keys(app).items()
        if values.get(key)
    }


def keep_protected(app: Application, answers: dict[str, Any]) -> dict[str, Any]:
    """A protected answer the page showed masked comes back absent (None): it keeps the value
    the server holds (the saved answer, an earlier one, else the real-name data)."""
    missing = [key for key in protected_keys(app) if answers.get(key) is None]
    if not missing:
        return answers
    held = materials.prefill(app, db.session.get(Citizen, app.applicant_id))
    return {**answers, **{key: held.get(key, "") for key in missing}}


def keep_typed(
    staff: User,
    application_id: int,
    *,
    conditions: dict[str, str],
    answers: dict[str, Any],
    choices: dict[int, str],
) -> dict[str, str]:
    """Save every valid value the clerk typed, with nothing required yet. Returns the fields
    whose typed value could not be kept (the page shows them again, not as errors)."""
    app = counter.get_intake(staff, application_id)
    version = app.item_version
    left: dict[str, str] = {}
    saved = dict(app.condition_answers or {})
    kept = dict(saved)
    for q in version.condition_questions or []:
        value = (conditions.get(q["key"]) or "").strip()
        if value in {str(option[0]) for option in q.get("options", [])}:
            kept[q["key"]] = value
        elif value:
            left[f"c_{q['key']}"] = value
    if kept != saved:
        app.condition_answers = kept
        applications.sync_materials(app)
    checked = materials.check_form(app, answers, partial=True)
    app.form_data = {**(app.form_data or {}), **checked.clean}
    left.update({f"q_{key}": message for key, message in checked.errors.items()})
    citizen = db.session.get(Citizen, app.applicant_id)
    for material in list(app.materials):
        raw = choices.get(material.requirement_id, "")
        try:
            choice = materials.parse_choice(raw)
            if choice is not None:
                materials.apply_choice(app, material.requirement_id, choice, citizen)
        except (ValidationError, NotFound):
            left[f"m_{material.requirement_id}"] = raw
    db.session.flush()
    return left


def submit_typed(
    staff: User,
    application_id: int,
    token: str,
    *,
    conditions: dict[str, str],
    answers: dict[str, Any],
    choices: dict[int, str],
) -> Application:
    """提交 from the intake page: what is on it is saved and checked as one, then submitted;
    the typed fields' errors and the materials still missing are reported together."""
    try:
        counter.save_intake(
            staff, application_id, conditions=conditions, answers=answers, choices=choices
        )
    except ValidationError as exc:
        errors = dict(exc.errors)
        app = counter.get_intake(staff, application_id)
        for problem in applications.precheck(app):
            if not problem.field.startswith(("c_", "q_")):  # those were just checked as typed
                errors.setdefault(problem.field, problem.message)
        raise ValidationError(errors) from None
    return counter.submit_intake(staff, application_id, token)

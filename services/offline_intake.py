"""离线受理: intakes typed at a counter while the server could not be reached, sent later.

Every intake carries a client-made idempotency key (an ``IntakeKey``). Sending it is ONE
transaction: claim the key, find or register the citizen (and the agent), start a counter
draft that belongs to this intake — not to the clerk's open context, which stays exactly as it
is (by the time the connection returns the clerk serves someone else) —, answer the conditions
and the form, store the scanned files as the citizen's documents and choose them, reuse
library documents for the other materials as online, and submit with the clerk as actor.

A refusal rolls the whole transaction back: no case, no citizen, no document row, no file,
and no key either. A refusal is therefore never final: staff fix the intake (or discard it)
and resend it with the same key. A key that succeeded answers every replay with its first
answer — the same case number, never a second case — and only to the clerk who made it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import (
    Channel,
    Citizen,
    IntakeKey,
    ItemVersion,
    MaterialRequirement,
    Role,
    ServiceItem,
    User,
    VersionStatus,
)
from services import accounts, applications, audit, counter
from services.errors import DomainError, NotAuthorized, NotFound, ValidationError
from services.identity import mask_name, normalise_phone, parse_resident_id

# where the applicant's and the agent's real-name fields live in the offline form
APPLICANT_PREFIX = "a_"
AGENT_PREFIX = "g_"
OPTIONS = ("deferred", "commitment")


class IntakeRefused(ValidationError):
    """The server refuses the intake; ``errors`` maps the offline form's fields to messages."""

    status_code = 422


@dataclass(frozen=True)
class IntakeFile:
    """A file scanned offline for one material of the intake."""

    requirement_id: int
    filename: str
    data: bytes


# ---- the catalogue the offline form works from ----------------------------------------------


def catalogue() -> list[dict[str, Any]]:
    """Published items with what the offline form needs: conditions, questions, materials."""
    versions = db.session.scalars(
        select(ItemVersion)
        .join(ServiceItem, ServiceItem.published_version_id == ItemVersion.id)
        .where(ItemVersion.status == VersionStatus.published)
        .options(
            selectinload(ItemVersion.requirements).selectinload(MaterialRequirement.material_type),
            selectinload(ItemVersion.item),
        )
        .order_by(ServiceItem.popularity.desc(), ServiceItem.code)
    )
    return [
        {
            "code": v.item.code,
            "version": v.id,
            "name": v.name,
            "conditions": v.condition_questions or [],
            "questions": v.questions or [],
            "materials": [
                {
                    "id": r.id,
                    "name": r.material_type.name,
                    "necessity": r.necessity,
                    "condition": r.condition,
                    "notes": r.notes,
                    "commitment": r.commitment_allowed,
                    "validity": r.material_type.validity_kind,
                }
                for r in v.requirements
            ],
        }
        for v in versions
    ]


# ---- sending one intake ---------------------------------------------------------------------


def check_key(key: str | None) -> str:
    """The idempotency key: a UUID made by the client."""
    try:
        return str(uuid.UUID(str(key or "").strip()))
    except ValueError:
        raise ValidationError({"key": str(_l("受理编号无效，请重新保存后发送"))}) from None


def fingerprint(payload: dict[str, Any], files: list[IntakeFile]) -> str:
    """What was sent, so that a key reused for a different intake is noticed."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode())
    for f in sorted(files, key=lambda f: f.requirement_id):
        digest.update(f"{f.requirement_id}:{hashlib.sha256(f.data).hexdigest()}".encode())
    return digest.hexdigest()


def _answer(row: IntakeKey, sent: str) -> dict[str, Any]:
    if row.response.get("fingerprint") != sent:  # edited after it was accepted: say where it went
        raise IntakeRefused(
            {
                "": str(
                    _l(
                        "这份受理已受理为办件 %(number)s，之后修改的内容没有发送；如需另行受理，请新建受理",
                        number=row.response.get("number", ""),
                    )
                )
            }
        )
    return {k: v for k, v in row.response.items() if k != "fingerprint"}


def _stored(staff: User, key: str) -> IntakeKey | None:
    row = db.session.scalar(select(IntakeKey).where(IntakeKey.key == key))
    if row is not None and row.staff_id != staff.id:
        raise NotFound(str(_l("受理记录不存在")))  # another clerk's key: nothing to tell
    return row


def send_intake(
    staff: User, key: str | None, payload: dict[str, Any], files: list[IntakeFile]
) -> tuple[dict[str, Any], bool]:
    """Submit an offline intake once. Returns (answer, replayed).

    Raises IntakeRefused (422, field errors), NotFound for another clerk's key; the caller (the
    request boundary) then rolls back, so nothing is written and stored scans are removed."""
    if staff is None or staff.role != Role.counter:
        raise NotAuthorized(str(_l("只有综合窗口人员可以接待办事群众")))
    key = check_key(key)
    sent = fingerprint(payload, files)
    row = _stored(staff, key)
    if row is not None:
        return _answer(row, sent), True
    claim = IntakeKey(key=key, staff_id=staff.id, response={})
    try:
        with db.session.begin_nested():
            db.session.add(claim)
    except IntegrityError:  # the same key sent at the same moment: the first one answers
        row = _stored(staff, key)
        if row is None:
            raise
        return _answer(row, sent), True
    try:
        answer = _intake(staff, claim, payload, files)
    except DomainError as exc:
        errors = exc.errors if isinstance(exc, ValidationError) else {"": exc.message}
        raise IntakeRefused(_form_fields(errors)) from None
    claim.response = {**answer, "fingerprint": sent}
    db.session.flush()
    return answer, False


def _form_fields(errors: dict[str, str]) -> dict[str, str]:
    """Upload errors name the material (u12_file → m_12); the rest already match the form."""
    out: dict[str, str] = {}
    for field, message in errors.items():
        if field.startswith("u") and "_" in field and field[1 : field.index("_")].isdigit():
            field = f"m_{field[1 : field.index('_')]}"
        out.setdefault(field, str(message))
    return out


def _person(data: Any, prefix: str, *, required: bool) -> tuple[Citizen | None, dict[str, str]]:
    """Find or register one person from the form's real-name fields."""
    data = data if isinstance(data, dict) else {}
    fields = {k: str(data.get(k) or "").strip() for k in ("name", "id_number", "phone", "address")}
    if not required and not any(fields.values()):
        return None, {}
    errors: dict[str, str] = {}
    phone = None
    if fields["phone"] or prefix == APPLICANT_PREFIX:
        try:
            phone = normalise_phone(fields["phone"])
        except ValidationError as exc:
            errors.update(exc.errors)
    for check, value in (
        (accounts.check_real_name, fields["name"]),
        (parse_resident_id, fields["id_number"]),
    ):
        try:
            check(value)
        except ValidationError as exc:
            errors.update(exc.errors)
    person = None
    if not errors:
        known = accounts.find_citizen_by_id_number(parse_resident_id(fields["id_number"]).number)
        if phone:  # a phone of another person is refused, as at the counter
            try:
                counter.check_phone_free(phone, known)
            except ValidationError as exc:
                errors.update(exc.errors)
        if known is not None or not errors:  # a known person's name is checked even so
            try:
                person = accounts.find_or_create_citizen(
                    name=fields["name"],
                    id_number=fields["id_number"],
                    phone=phone,
                    address=fields["address"],
                )
            except ValidationError as exc:
                errors.update(exc.errors)
    if errors:
        return None, {f"{prefix}{k}": v for k, v in errors.items()}
    return person, {}


def _item(payload: dict[str, Any]) -> ServiceItem:
    item = db.session.scalar(
        select(ServiceItem).where(ServiceItem.code == str(payload.get("item") or ""))
    )
    version = item.published_version if item is not None else None
    if version is None or version.status != VersionStatus.published:
        raise ValidationError({"item": str(_l("该事项已下线或暂停办理，不能受理"))})
    if payload.get("version") != version.id:
        raise ValidationError({"item": str(_l("该事项的办事指南已更新，请按新版本核对后重新发送"))})
    return item


def _date(value: Any, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError({field: str(_l("请按 年-月-日 填写日期"))}) from None


def _intake(
    staff: User, claim: IntakeKey, payload: dict[str, Any], files: list[IntakeFile]
) -> dict[str, Any]:
    item = _item(payload)
    applicant, errors = _person(payload.get("applicant"), APPLICANT_PREFIX, required=True)
    agent, agent_errors = _person(payload.get("agent"), AGENT_PREFIX, required=False)
    errors.update(agent_errors)
    if applicant is not None and agent is not None and agent.id == applicant.id:
        errors[f"{AGENT_PREFIX}id_number"] = str(_l("代理人不能是申请人本人"))
    if errors:
        raise ValidationError(errors)
    app = applications.start_draft(
        actor=staff,
        applicant=applicant,
        item=item,
        channel=Channel.counter,
        agent=agent,
        intake=claim,
    )
    conditions = payload.get("conditions") if isinstance(payload.get("conditions"), dict) else {}
    form = payload.get("form") if isinstance(payload.get("form"), dict) else {}
    try:
        applications.save_conditions(app, {str(k): str(v) for k, v in conditions.items()})
    except ValidationError as exc:
        errors.update(exc.errors)
    try:
        applications.save_form(app, {**applications.prefill(app, applicant), **form})
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    scans = payload.get("scans") if isinstance(payload.get("scans"), dict) else {}
    for f in files:
        meta = scans.get(str(f.requirement_id)) or {}
        field = f"m_{f.requirement_id}"
        try:
            applications.upload_for(
                staff,
                app,
                f.requirement_id,
                data=f.data,
                filename=f.filename,
                issued_on=_date(meta.get("issued_on"), field),
                own_expiry=_date(meta.get("valid_until"), field),
                intake=claim,
            )
        except NotFound as exc:
            errors[field] = exc.message
        except ValidationError as exc:
            errors.update(_form_fields(exc.errors))
    options = payload.get("options") if isinstance(payload.get("options"), dict) else {}
    for requirement_id, option in options.items():
        field = f"m_{requirement_id}"
        if option not in OPTIONS or not str(requirement_id).isdigit():
            errors[field] = str(_l("选项不正确"))
            continue
        try:
            applications.choose_option(app, int(requirement_id), option, applicant)
        except DomainError as exc:
            errors[field] = exc.message
    if errors:
        raise ValidationError(errors)
    case = applications.submit_application(staff, app.id, app.submit_token)
    audit.record_event(
        "counter_offline_intake",
        actor=staff,
        application_id=case.id,
        details={"key": claim.key, "number": case.number, "files": len(files)},
    )
    return {
        "status": "submitted",
        "number": case.number,
        "application_id": case.id,
        "item": case.item_version.name,
        "applicant": mask_name(applicant.name),
    }

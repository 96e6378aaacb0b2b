"""The 办件 state machine: each transition and each refusal, through services.workflow.perform."""

import hashlib
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models import (
    Application,
    CorrectionRequest,
    Document,
    ELicence,
    Event,
    Grade,
    Message,
    Notice,
    PostCheckTask,
    Role,
)
from services import accounts, applications, audit, case_access, clock, counter, notices, workflow
from services.errors import Conflict, NotAuthorized, NotFound, ValidationError
from tests.helpers import pdf_text
from tests.workflow_cases import (
    RESIDENCE_PERMIT,
    RESIDENCE_REGISTRATION,
    UNEMPLOYMENT,
    submit_case,
    upload,
    user,
)


def notice_text(notice: Notice) -> str:
    """The stored notice PDF's text, after checking the file is the one the row promises."""
    data = notices.notice_pdf(notice)
    assert hashlib.sha256(data).hexdigest() == notice.sha256
    return pdf_text(data)


def last_event(app, action=None) -> Event:
    stmt = select(Event).where(Event.application_id == app.id)
    if action:
        stmt = stmt.where(Event.action == action)
    return db.session.scalar(stmt.order_by(Event.id.desc()).limit(1))


def notices_of(app, kind=None):
    return [n for n in notices.notices_of(app.id) if kind is None or n.kind == kind]


@pytest.fixture
def permit(app_ctx):
    """A 居住证申领 (公安局, 7 自然日) submitted by 13800000002 with two uploaded materials."""
    return submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})


@pytest.fixture
def reviewer(app_ctx):
    return user("reviewer01")


def test_the_table_names_only_known_states_and_every_action_has_a_handler():
    states = {
        "draft",
        "submitted",
        "correction_required",
        "accepted",
        "accepted_pending_materials",
        "accepted_on_commitment",
        "in_review",
        "suspended",
        "approved",
        "certifying",
        "awaiting_pickup",
        "awaiting_post",
        "mailed",
        "denied",
        "not_accepted",
        "withdrawn",
        "terminated",
        "completed",
    }
    for name, t in workflow.TRANSITIONS.items():
        assert set(t.sources) <= states, name
        assert t.target is None or t.target in states, name
        assert t.roles <= {"citizen", "counter", "reviewer", "admin", "system"}, name
        assert set(t.notices) <= set(notices.KINDS), name
    assert set(workflow.ACTIONS) == set(workflow.TRANSITIONS)
    reached = {t.target for t in workflow.TRANSITIONS.values()} | {"submitted"}
    assert states - {"draft"} <= reached


def test_accept_starts_the_clock_and_issues_a_stored_notice(permit, reviewer):
    version = permit.version
    workflow.perform(reviewer, permit.id, "accept", version)
    assert permit.status == "accepted" and permit.version == version + 1
    assert permit.accepted_at is not None
    assert permit.due_date == clock.local_today() + timedelta(days=7)  # 7 自然日
    [notice] = notices_of(permit, "acceptance")
    text = notice_text(notice)
    assert permit.number in text and "受理通知书" in text and "市公安局" in text
    event = last_event(permit, "accepted")
    assert event.actor_id == reviewer.id
    assert event.details["notices"] == [
        {"kind": "acceptance", "number": notice.number, "sha256": notice.sha256}
    ]
    message = db.session.scalar(
        select(Message).where(Message.application_id == permit.id, Message.kind == "accepted")
    )
    assert message is not None and permit.due_date.isoformat() in message.body


def test_a_stale_version_is_refused_with_the_refresh_message(permit, reviewer):
    with pytest.raises(Conflict) as err:
        workflow.perform(reviewer, permit.id, "accept", permit.version - 1)
    assert "该办件已被他人处理，请刷新后重试" in err.value.message
    assert permit.status == "submitted" and notices_of(permit) == []


def test_an_action_the_state_does_not_allow_is_a_conflict(permit, reviewer):
    for action in (
        "approve",
        "deny",
        "resume",
        "start_review",
        "certify",
        "deliver",
        "mail",
        "confirm_receipt",
        "materials_complete",
    ):
        with pytest.raises(Conflict):
            workflow.perform(reviewer, permit.id, action, permit.version)
    workflow.perform(reviewer, permit.id, "accept", permit.version)
    with pytest.raises(Conflict):
        workflow.perform(reviewer, permit.id, "accept", permit.version)
    with pytest.raises(Conflict):
        workflow.perform(
            reviewer, permit.id, "request_correction", permit.version, fields={"address": "x"}
        )


def test_another_departments_reviewer_gets_not_found_and_a_citizen_not_authorised(permit):
    with pytest.raises(NotFound):
        workflow.perform(user("reviewer02"), permit.id, "accept", permit.version)
    with pytest.raises(NotAuthorized):
        workflow.perform(user("13800000002"), permit.id, "accept", permit.version)
    with pytest.raises(NotFound):
        workflow.perform(user("13800000001"), permit.id, "withdraw", permit.version)
    with pytest.raises(NotFound):
        workflow.perform(user("reviewer01"), permit.id, "no_such_action", permit.version)
    assert permit.status == "submitted"


def test_counter_staff_may_accept_any_departments_case_of_the_citizen_they_serve(permit):
    clerk = user("counter01")
    with pytest.raises(NotFound):  # not serving anyone
        workflow.perform(clerk, permit.id, "accept", permit.version)
    counter.begin_context(clerk, user("13800000001").citizen)
    with pytest.raises(NotFound):  # serving someone else
        workflow.perform(clerk, permit.id, "accept", permit.version)
    counter.begin_context(clerk, permit.applicant)
    workflow.perform(clerk, permit.id, "accept", permit.version)
    assert permit.status == "accepted"
    counter.end_context(clerk)
    assert not case_access.may_see(clerk, permit)


def test_review_steps_follow_the_guide_and_can_be_assigned(permit, reviewer):
    steps = permit.item_version.steps
    assert steps[0]["role"] == "counter"
    workflow.perform(reviewer, permit.id, "accept", permit.version)
    assert permit.current_step == 1  # past 受理, at the first reviewer step
    workflow.perform(reviewer, permit.id, "start_review", permit.version)
    assert permit.status == "in_review" and permit.assignee_id == reviewer.id
    colleague = accounts.create_staff(
        username="reviewer09",
        password="Demo@2026x",
        role=Role.reviewer,
        display_name="公安审批员九",
        department=reviewer.department,
    )
    # 居住证: 受理, 审核 (the decision step), 制证, 送达: no review step after 审核 to advance to
    with pytest.raises(Conflict):
        workflow.perform(
            reviewer, permit.id, "advance_step", permit.version, assignee_id=colleague.id
        )
    workflow.perform(reviewer, permit.id, "assign", permit.version, assignee_id=colleague.id)
    assert permit.current_step == 1 and permit.assignee_id == colleague.id
    with pytest.raises(ValidationError):
        workflow.perform(
            reviewer, permit.id, "assign", permit.version, assignee_id=user("reviewer02").id
        )
    # (a guide with more review steps advances through each: tests/services/test_delivery.py)


def test_a_transition_leaves_the_case_as_reading_it_again_would(permit, reviewer):
    """The guarded UPDATE's RETURNING becomes the case's state instead of a SELECT after it:
    every column as the database holds it, and a relationship whose column the UPDATE set
    (the assignee) is the new one, though it was loaded before."""
    colleague = accounts.create_staff(
        username="reviewer07",
        password="Demo@2026x",
        role=Role.reviewer,
        display_name="公安审批员七",
        department=reviewer.department,
    )
    workflow.perform(colleague, permit.id, "claim", permit.version)
    assert permit.assignee is colleague
    workflow.perform(colleague, permit.id, "assign", permit.version, assignee_id=reviewer.id)
    assert permit.assignee is reviewer
    table = Application.__table__
    stored = db.session.execute(select(table).where(table.c.id == permit.id)).one()._mapping
    assert {c.key: getattr(permit, c.key) for c in table.columns} == {
        c.key: stored[c] for c in table.columns
    }


def test_claim_is_refused_when_a_colleague_holds_the_case(permit, reviewer):
    colleague = accounts.create_staff(
        username="reviewer08",
        password="Demo@2026x",
        role=Role.reviewer,
        display_name="公安审批员八",
        department=reviewer.department,
    )
    workflow.perform(colleague, permit.id, "claim", permit.version)
    assert permit.assignee_id == colleague.id and permit.status == "submitted"
    with pytest.raises(Conflict):
        workflow.perform(reviewer, permit.id, "claim", permit.version)
    workflow.perform(colleague, permit.id, "assign", permit.version, assignee_id=reviewer.id)
    assert permit.assignee_id == reviewer.id


def test_approve_leads_to_certifying_then_the_licence_and_pickup_completes(permit, reviewer):
    """准予 no longer closes the case: 居住证 declares 制证 and is collected at a counter."""
    workflow.perform(reviewer, permit.id, "accept", permit.version)
    workflow.perform(reviewer, permit.id, "start_review", permit.version)
    workflow.perform(reviewer, permit.id, "approve", permit.version, opinion="符合条件")
    assert permit.status == "certifying" and permit.decided_at and permit.completed_at is None
    assert permit.current_step == 2  # 制证
    assert db.session.scalar(select(ELicence).where(ELicence.application_id == permit.id)) is None
    workflow.perform(reviewer, permit.id, "certify", permit.version)
    assert permit.status == "awaiting_pickup" and permit.completed_at is None
    assert permit.current_step == 3  # 办结（领证或邮寄）
    licence = db.session.scalar(select(ELicence).where(ELicence.application_id == permit.id))
    assert licence is not None and licence.holder_id == permit.applicant_id
    doc = db.session.get(Document, licence.document_id)
    assert doc.grade == Grade.A and doc.owner_id == permit.applicant_id
    clerk = user("counter01")
    counter.begin_context(clerk, permit.applicant)
    counter.decide(clerk, permit.id, "pickup", permit.version)
    assert permit.status == "completed" and permit.completed_at and permit.delivered_at
    assert [n.kind for n in notices_of(permit)] == ["acceptance", "approval", "completion"]
    kinds = set(db.session.scalars(select(Message.kind).where(Message.application_id == permit.id)))
    assert "licence" in kinds
    assert last_event(permit, "awaiting_pickup").details["licence"] == licence.number


def test_deny_requires_reasons_and_names_the_routes_of_redress(permit, reviewer):
    workflow.perform(reviewer, permit.id, "accept", permit.version)
    workflow.perform(reviewer, permit.id, "start_review", permit.version)
    with pytest.raises(ValidationError) as err:
        workflow.perform(reviewer, permit.id, "deny", permit.version, reasons="  ")
    assert "reasons" in err.value.errors
    workflow.perform(reviewer, permit.id, "deny", permit.version, reasons="居住时间不满半年")
    assert permit.status == "denied"
    text = notice_text(notices_of(permit, "denial")[0])
    assert "居住时间不满半年" in text and "行政复议" in text and "行政诉讼" in text


def test_not_accept_names_where_to_go(permit, reviewer):
    with pytest.raises(ValidationError) as err:
        workflow.perform(
            reviewer, permit.id, "not_accept", permit.version, reason="不属于本机关职权"
        )
    assert "refer_to" in err.value.errors
    workflow.perform(
        reviewer,
        permit.id,
        "not_accept",
        permit.version,
        reason="不属于本机关职权",
        refer_to="市交警支队车辆管理所",
    )
    assert permit.status == "not_accepted"
    assert "市交警支队车辆管理所" in notice_text(notices_of(permit, "not_accepted")[0])


def test_withdraw_until_a_decision_and_not_after(permit, reviewer):
    citizen = user("13800000002")
    applications.withdraw_application(citizen, permit.id, "不办了")
    assert permit.status == "withdrawn"
    assert last_event(permit, "withdrawn").details["reason"] == "不办了"
    with pytest.raises(Conflict):
        applications.withdraw_application(citizen, permit.id)


def test_withdraw_is_refused_after_approval(permit, reviewer):
    workflow.perform(reviewer, permit.id, "accept", permit.version)
    workflow.perform(reviewer, permit.id, "start_review", permit.version)
    workflow.perform(reviewer, permit.id, "approve", permit.version)
    with pytest.raises(Conflict):
        applications.withdraw_application(user("13800000002"), permit.id)


# ---- 一次性告知 ------------------------------------------------------------------------------


def photo_of(app):
    return next(m for m in app.materials if m.requirement.material_type.name == "证件照数码回执")


def test_one_correction_round_lists_every_item_and_a_second_is_refused(permit, reviewer):
    photo = photo_of(permit)
    workflow.set_material_verdict(reviewer, permit.id, photo.id, "correct", "照片背景不是白色")
    with pytest.raises(ValidationError):
        workflow.perform(
            reviewer, permit.id, "request_correction", permit.version, fields={"address": ""}
        )
    workflow.perform(
        reviewer,
        permit.id,
        "request_correction",
        permit.version,
        fields={"address": "地址不完整，请写到门牌号"},
    )
    assert permit.status == "correction_required" and permit.correction_rounds == 1
    request = workflow.open_correction(permit)
    assert {(i["kind"], str(i["key"])) for i in request.items} == {
        ("field", "address"),
        ("material", str(photo.requirement_id)),
    }
    text = notice_text(notices_of(permit, "correction")[0])
    assert "照片背景不是白色" in text and "地址不完整" in text and "一次性告知" in text

    citizen = user("13800000002")
    new_photo = upload(citizen.citizen, photo.requirement.material_type, colour=(255, 255, 255))
    workflow.perform(
        citizen,
        permit.id,
        "resubmit",
        permit.version,
        answers={"address": "人民路 1 号 3 单元 501 室"},
        documents={photo.requirement_id: new_photo.id},
    )
    assert permit.status == "submitted" and permit.form_data["address"].endswith("501 室")
    with pytest.raises(Conflict) as err:
        workflow.perform(
            reviewer,
            permit.id,
            "request_correction",
            permit.version,
            fields={"phone": "号码打不通"},
        )
    assert "一次性告知" in err.value.message
    assert permit.status == "submitted"


def test_an_admin_exception_allows_one_more_round_and_is_counted(permit, reviewer):
    workflow.perform(
        reviewer, permit.id, "request_correction", permit.version, fields={"address": "不完整"}
    )
    citizen = user("13800000002")
    workflow.perform(
        citizen, permit.id, "resubmit", permit.version, answers={"address": "人民路 2 号"}
    )
    before = workflow.count_correction_exceptions()
    with pytest.raises(ValidationError):
        workflow.grant_correction_exception(user("admin"), permit.number, "")
    with pytest.raises(NotAuthorized):
        workflow.grant_correction_exception(reviewer, permit.number, "理由")
    workflow.grant_correction_exception(
        user("admin"), permit.number, "申请人新提供的证件与原件不一致"
    )
    assert workflow.count_correction_exceptions() == before + 1
    workflow.perform(
        reviewer, permit.id, "request_correction", permit.version, fields={"phone": "号码打不通"}
    )
    assert permit.correction_rounds == 2
    rounds = db.session.scalar(
        select(func.count())
        .select_from(CorrectionRequest)
        .where(CorrectionRequest.application_id == permit.id)
    )
    assert rounds == 2
    citizen_answers = {"phone": "13911112222"}
    workflow.perform(citizen, permit.id, "resubmit", permit.version, answers=citizen_answers)
    with pytest.raises(Conflict):  # the exception is used up
        workflow.perform(
            reviewer, permit.id, "request_correction", permit.version, fields={"phone": "x"}
        )


def test_resubmission_may_change_only_the_listed_items(permit, reviewer):
    photo = photo_of(permit)
    workflow.perform(
        reviewer,
        permit.id,
        "request_correction",
        permit.version,
        materials={photo.requirement_id: "照片模糊"},
    )
    citizen = user("13800000002")
    before = dict(permit.form_data)
    with pytest.raises(ValidationError):  # a field that was not listed is locked
        workflow.perform(
            citizen,
            permit.id,
            "resubmit",
            permit.version,
            answers={"address": "别处"},
            documents={photo.requirement_id: photo.document_id},
        )
    with pytest.raises(ValidationError) as err:  # the same defective document again
        workflow.perform(
            citizen,
            permit.id,
            "resubmit",
            permit.version,
            documents={photo.requirement_id: photo.document_id},
        )
    assert f"m_{photo.requirement_id}" in err.value.errors
    theirs = db.session.scalar(
        select(Document).where(Document.owner_id == user("13800000001").citizen_id)
    )
    with pytest.raises(ValidationError):  # someone else's document
        workflow.perform(
            citizen,
            permit.id,
            "resubmit",
            permit.version,
            documents={photo.requirement_id: theirs.id},
        )
    assert permit.status == "correction_required" and permit.form_data == before


# ---- 容缺受理 -----------------------------------------------------------------------------


@pytest.fixture
def deferred(app_ctx):
    """失业登记 (人社局) with the 劳动关系 proof deferred under 容缺后补."""
    return submit_case(
        "13800000002",
        UNEMPLOYMENT,
        {"reason": "dismissed"},
        options={"解除或终止劳动关系证明": "deferred"},
    )


def test_accepting_with_missing_materials_needs_the_deferral_route_and_a_deadline(deferred):
    hr = user("reviewer02")
    with pytest.raises(ValidationError):
        workflow.perform(hr, deferred.id, "accept", deferred.version)
    with pytest.raises(ValidationError) as err:
        workflow.perform(
            hr,
            deferred.id,
            "accept_pending_materials",
            deferred.version,
            supply_deadline=clock.local_today() + timedelta(days=30),
        )
    assert "supply_deadline" in err.value.errors  # later than the promised date
    workflow.perform(
        hr,
        deferred.id,
        "accept_pending_materials",
        deferred.version,
        supply_deadline=clock.local_today(),
    )
    assert (
        deferred.status == "accepted_pending_materials"
        and deferred.supply_deadline == clock.local_today()
    )
    assert "解除或终止劳动关系证明" in notice_text(notices_of(deferred, "deferred_acceptance")[0])


def test_supplied_materials_are_reviewed_before_the_decision(deferred):
    hr, citizen = user("reviewer02"), user("13800000002")
    workflow.perform(
        hr,
        deferred.id,
        "accept_pending_materials",
        deferred.version,
        supply_deadline=clock.local_today(),
    )
    with pytest.raises(ValidationError):
        workflow.perform(hr, deferred.id, "materials_complete", deferred.version)
    proof = next(m for m in deferred.materials if m.satisfied_by.value == "deferred")
    doc = upload(citizen.citizen, proof.requirement.material_type)
    workflow.perform(
        citizen,
        deferred.id,
        "supply_materials",
        deferred.version,
        documents={proof.requirement_id: doc.id},
    )
    assert proof.verdict == "supplied" and proof.document_id == doc.id
    with pytest.raises(ValidationError):  # not yet reviewed
        workflow.perform(hr, deferred.id, "materials_complete", deferred.version)
    workflow.set_material_verdict(hr, deferred.id, proof.id, "original_checked")
    assert db.session.get(Document, doc.id).grade == Grade.B
    workflow.perform(hr, deferred.id, "materials_complete", deferred.version)
    assert deferred.status == "in_review"
    workflow.perform(hr, deferred.id, "approve", deferred.version)
    assert deferred.status == "completed"


# ---- 告知承诺 -----------------------------------------------------------------------------


@pytest.fixture
def committed(app_ctx):
    """居住登记 (公安局) for a rented home, the lease replaced by the applicant's commitment."""
    return submit_case(
        "13800000002",
        RESIDENCE_REGISTRATION,
        {"housing": "rent"},
        options={"房屋租赁合同": "commitment"},
    )


def test_commitment_acceptance_creates_a_post_check_and_a_false_finding_terminates(
    committed, reviewer
):
    assert committed.status == "submitted"  # 秒批 failed: no 身份证 e-licence, not own housing
    with pytest.raises(ValidationError):
        workflow.perform(reviewer, committed.id, "accept", committed.version)
    workflow.perform(reviewer, committed.id, "accept_on_commitment", committed.version)
    assert committed.status == "accepted_on_commitment"
    task = db.session.scalar(
        select(PostCheckTask).where(PostCheckTask.application_id == committed.id)
    )
    assert task.status == "open" and task.department_id == reviewer.department_id
    workflow.perform(reviewer, committed.id, "start_review", committed.version)
    workflow.perform(reviewer, committed.id, "approve", committed.version)
    licence = db.session.scalar(select(ELicence).where(ELicence.application_id == committed.id))
    assert committed.status == "completed" and licence.status == "valid"

    with pytest.raises(NotFound):
        workflow.record_post_check(user("reviewer02"), task.id, "false", "x")
    with pytest.raises(ValidationError):
        workflow.record_post_check(reviewer, task.id, "false", "")
    workflow.record_post_check(reviewer, task.id, "false", "实地核查无人居住")
    assert task.status == "false" and committed.applicant.commitment_barred
    db.session.refresh(committed)
    assert committed.status == "terminated"
    assert licence.status == "cancelled"
    assert "实地核查无人居住" in notice_text(notices_of(committed, "termination")[0])
    with pytest.raises(Conflict):
        workflow.record_post_check(reviewer, task.id, "passed")
    # next time the option is refused to them
    again = applications.start_draft(
        actor=user("13800000002"), applicant=committed.applicant, item=committed.item_version.item
    )
    applications.save_conditions(again, {"housing": "rent"})
    lease = next(m for m in again.materials if m.requirement.commitment_allowed)
    with pytest.raises(ValidationError):
        applications.choose_option(again, lease.requirement_id, "commitment", committed.applicant)


def test_a_barred_applicant_cannot_be_accepted_on_commitment(committed, reviewer):
    committed.applicant.commitment_barred = True
    db.session.flush()
    with pytest.raises(ValidationError):
        workflow.perform(reviewer, committed.id, "accept_on_commitment", committed.version)


# ---- 特别程序 -----------------------------------------------------------------------------


def test_suspension_arithmetic_across_national_day_and_a_make_up_saturday(app_ctx):
    case = SimpleNamespace(
        item_version=SimpleNamespace(promised_limit_unit="working"), due_date=date(2026, 10, 9)
    )
    # Mon 28 Sep → Fri 9 Oct 2026: 29, 30 Sep and 8, 9 Oct are working days (1–7 Oct off)
    days, due = workflow.suspension_extension(case, date(2026, 9, 28), date(2026, 10, 9))
    assert days == 4
    # from Fri 9 Oct: Sat 10 Oct is a make-up working day (调休), then Mon 12 … Wed 14
    assert due == date(2026, 10, 14)
    assert workflow.suspension_extension(case, date(2026, 10, 9), date(2026, 10, 9)) == (
        0,
        date(2026, 10, 9),
    )
    case.item_version.promised_limit_unit = "natural"
    assert workflow.suspension_extension(case, date(2026, 9, 28), date(2026, 10, 9)) == (
        11,
        date(2026, 10, 20),
    )


def test_suspend_and_resume_move_the_due_date(permit, reviewer, monkeypatch):
    workflow.perform(reviewer, permit.id, "accept", permit.version)
    workflow.perform(reviewer, permit.id, "start_review", permit.version)
    with pytest.raises(ValidationError) as err:
        workflow.perform(
            reviewer,
            permit.id,
            "suspend",
            permit.version,
            kind="party",
            reason="",
            expected_days=99,
        )
    assert set(err.value.errors) == {"kind", "reason", "expected_days"}
    workflow.perform(
        reviewer,
        permit.id,
        "suspend",
        permit.version,
        kind="inspection",
        reason="需要现场核查居住情况",
        expected_days=5,
    )
    assert permit.status == "suspended"
    with pytest.raises(Conflict):
        workflow.perform(reviewer, permit.id, "approve", permit.version)
    due = permit.due_date
    monkeypatch.setattr(workflow, "today", lambda: clock.local_today() + timedelta(days=3))
    workflow.perform(reviewer, permit.id, "resume", permit.version)
    assert permit.status == "in_review"
    assert permit.due_date == due + timedelta(days=3)  # 居住证 counts 自然日
    assert last_event(permit, "in_review").details["days"] == 3


# ---- 一件事 -------------------------------------------------------------------------------


def test_a_bundle_parent_completes_when_every_child_is_decided(app_ctx):
    from portal.models import Bundle
    from services import bundle_applications
    from tests.services.test_bundle_applications import answer_everything

    owner = user("13800000002")
    bundle = db.session.scalar(select(Bundle).where(Bundle.code == "B001"))
    parent = bundle_applications.start_bundle_draft(
        actor=owner, applicant=owner.citizen, bundle=bundle
    )
    answer_everything(owner, parent)
    parent = bundle_applications.submit_bundle(owner, parent.id, parent.submit_token)
    children = list(parent.children)
    for child in children:
        workflow.perform(None, child.id, "approve_instantly", child.version)
    # decided, but a child whose result waits for 出件 or the post is not delivered: not done
    waiting = [c for c in children if c.status != "completed"]
    assert waiting and all(c.status in ("awaiting_pickup", "awaiting_post") for c in waiting)
    db.session.refresh(parent)
    assert parent.status == "submitted"
    clerk = user("counter01")
    counter.begin_context(clerk, owner.citizen)
    for child in waiting:
        if child.status == "awaiting_pickup":
            counter.decide(
                clerk, child.id, "pickup", child.version, visit_reason="申请人选择窗口领取"
            )
        else:
            workflow.perform(
                clerk, child.id, "mail", child.version, carrier="ems", tracking="EA123456789CN"
            )
            workflow.perform(owner, child.id, "confirm_receipt", child.version)
    db.session.refresh(parent)
    assert parent.status == "completed" and parent.completed_at is not None


# ---- the audit trail --------------------------------------------------------------------


def test_tampering_with_a_workflow_event_is_found(permit, reviewer):
    workflow.perform(reviewer, permit.id, "accept", permit.version)
    workflow.perform(reviewer, permit.id, "start_review", permit.version)
    workflow.perform(reviewer, permit.id, "deny", permit.version, reasons="不符合条件")
    denial = last_event(permit, "denied")
    assert audit.verify_chain().broken_at is None
    db.session.execute(
        update(Event)
        .where(Event.id == denial.id)
        .values(details={**denial.details, "reasons": "符合条件"})
    )
    db.session.expire_all()
    report = audit.verify_chain()
    assert report.broken_at == denial.id


# ---- notices ----------------------------------------------------------------------------


def test_notices_are_verified_by_check_code_or_sha_prefix_and_nothing_else(permit, reviewer):
    workflow.perform(reviewer, permit.id, "accept", permit.version)
    [notice] = notices_of(permit)
    assert notices.verify_notice(f"{notice.number}-{notice.check_code}").id == notice.id
    assert notices.verify_notice(f"{notice.number}-{notice.sha256[:12]}").id == notice.id
    assert notices.verify_notice(f"{notice.number}-{'0' * 8}") is None
    assert notices.verify_notice(f"{notice.number}-{notice.sha256[:6]}") is None  # too short
    assert notices.verify_notice("'; drop table notices; --") is None
    assert notices.verify_notice("") is None


def test_verdicts_need_a_reason_for_correction_and_raise_c_to_b_on_original_check(permit, reviewer):
    photo = photo_of(permit)
    with pytest.raises(ValidationError):
        workflow.set_material_verdict(reviewer, permit.id, photo.id, "correct", "")
    with pytest.raises(ValidationError):
        workflow.set_material_verdict(reviewer, permit.id, photo.id, "great")
    with pytest.raises(NotFound):
        workflow.set_material_verdict(user("reviewer02"), permit.id, photo.id, "ok")
    doc = db.session.get(Document, photo.document_id)
    assert doc.grade == Grade.C
    workflow.set_material_verdict(reviewer, permit.id, photo.id, "original_checked")
    assert doc.grade == Grade.B and doc.verified_by_id == reviewer.id and doc.verified_at
    assert last_event(permit, "material_verdict").details["document_raised"] == doc.id


def test_an_application_of_another_department_is_not_found_for_the_staff_page(permit):
    with pytest.raises(NotFound):
        workflow.get_staff_case(user("reviewer02"), permit.id)
    assert workflow.get_staff_case(user("reviewer01"), permit.id).id == permit.id
    assert db.session.get(Application, permit.id).department_id == user("reviewer01").department_id


def test_the_case_page_offers_only_the_actions_that_fit(permit, reviewer, app_ctx):
    offered = workflow.offered_actions(permit, reviewer)
    assert {"accept", "not_accept", "request_correction", "claim"} <= set(offered)
    assert not {"accept_pending_materials", "accept_on_commitment", "approve_instantly"} & set(
        offered
    )
    deferred = submit_case(
        "13800000003",
        UNEMPLOYMENT,
        {"reason": "dismissed"},
        options={"解除或终止劳动关系证明": "deferred"},
    )
    hr = user("reviewer02")
    offered = workflow.offered_actions(deferred, hr)
    assert "accept_pending_materials" in offered and "accept" not in offered
    assert "approve_instantly" not in offered  # 即办件, but a material is still to come
    assert workflow.offered_actions(permit, user("13800000002")) == ["withdraw"]


def test_an_issued_notice_cannot_be_changed_through_the_models(permit, reviewer):
    workflow.perform(reviewer, permit.id, "accept", permit.version)
    [notice] = notices_of(permit)
    notice.sha256 = "0" * 64
    with pytest.raises(ValueError):
        db.session.flush()
    db.session.rollback()


def test_each_notice_has_a_plain_summary_of_what_it_says(permit, reviewer, deferred):
    workflow.perform(reviewer, permit.id, "accept", permit.version)
    workflow.perform(reviewer, permit.id, "start_review", permit.version)
    workflow.perform(reviewer, permit.id, "deny", permit.version, reasons="居住满半年的证明不足")
    acceptance, denial = notices_of(permit, "acceptance")[0], notices_of(permit, "denial")[0]
    summary = notices.summaries(permit.id)
    assert summary[acceptance.id] == [f"承诺办结日：{permit.due_date.isoformat()}"]
    assert summary[denial.id] == ["不予许可的理由：居住满半年的证明不足"]
    assert "居住满半年的证明不足" in notice_text(denial)  # the summary says what the PDF says
    deadline = clock.local_today()
    workflow.perform(
        user("reviewer02"),
        deferred.id,
        "accept_pending_materials",
        deferred.version,
        supply_deadline=deadline,
    )
    [notice] = notices_of(deferred, "deferred_acceptance")
    lines = notices.summaries(deferred.id)[notice.id]
    assert f"请在 {deadline.isoformat()} 前补交：解除或终止劳动关系证明" in lines

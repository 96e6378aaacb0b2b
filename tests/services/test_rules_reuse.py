"""材料复用 rules that must hold: a library document is proposed, accepted and passes the
pre-check only when it is still valid on the case's promised completion date, not merely
today (DOMAIN.md: an expired document cannot be reused; reuse.py decides against the date).

Each test was checked by comparing the expiry with today instead and seeing it fail."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import DocumentStatus, Grade, ServiceItem, User
from seeds.factories import make_png
from services import applications, clock, reuse, workdays
from services.documents import add_document
from services.errors import ValidationError

TODAY = clock.local_today()


@pytest.fixture
def case(app_ctx):
    """A draft of 居住证申领 (promised in 7 自然日) with its 情形 answered, for 13800000002,
    and one required material of a type the citizen has no document of yet."""
    citizen_user = db.session.scalar(select(User).where(User.phone == "13800000002"))
    item = next(
        i
        for i in db.session.scalars(select(ServiceItem))
        if i.published_version and i.published_version.name == "居住证申领"
    )
    version = item.published_version
    due = workdays.due_date(TODAY, version.promised_limit, version.promised_limit_unit)
    assert due >= TODAY + timedelta(days=3), "the rule needs days between today and the promise"
    app = applications.start_draft(actor=citizen_user, applicant=citizen_user.citizen, item=item)
    applications.save_conditions(
        app, {q["key"]: q["options"][0][0] for q in version.condition_questions}
    )
    material = next(
        m
        for m in app.materials
        if m.requirement.necessity == "required" and m.satisfied_by.value == "missing"
    )
    return citizen_user.citizen, app, material, due


def a_document(citizen, material, valid_until: date, grade=Grade.B):
    doc = add_document(
        owner=citizen,
        material_type=material.requirement.material_type,
        data=make_png(),
        content_type="image/png",
        filename="proof.png",
        grade=grade,
        source="counter" if grade == Grade.B else "elicence",
        issued_on=TODAY - timedelta(days=30),
    )
    doc.valid_until = valid_until
    db.session.flush()
    return doc


def resync(app):
    applications.save_conditions(app, dict(app.condition_answers))


def test_a_document_valid_today_but_expiring_before_the_promise_is_not_proposed(case):
    citizen, app, material, due = case
    short = a_document(citizen, material, due - timedelta(days=1), grade=Grade.A)
    assert short.valid_until >= TODAY  # perfectly valid today
    resync(app)
    assert material.document_id is None and material.satisfied_by.value == "missing"
    proposal = reuse.propose_materials(citizen.id, [material.requirement], due)[0]
    assert proposal.kind == "upload"
    assert [d.id for d, _ in proposal.excluded] == [short.id]
    assert due.isoformat() in proposal.excluded[0][1]


def test_a_document_valid_until_the_promised_date_itself_is_proposed(case):
    citizen, app, material, due = case
    a_document(citizen, material, due - timedelta(days=1), grade=Grade.A)
    enough = a_document(citizen, material, due)
    resync(app)
    assert material.document_id == enough.id and material.satisfied_by.value == "library"


def test_choosing_a_document_that_expires_before_the_promise_is_refused(case):
    citizen, app, material, due = case
    short = a_document(citizen, material, TODAY + timedelta(days=1))
    with pytest.raises(ValidationError) as err:
        applications.choose_document(app, material.requirement_id, short.id)
    message = err.value.errors[f"m_{material.requirement_id}"]
    assert short.valid_until.isoformat() in message and due.isoformat() in message
    assert material.document_id is None
    enough = a_document(citizen, material, due + timedelta(days=1))
    applications.choose_document(app, material.requirement_id, enough.id)
    assert material.document_id == enough.id


def test_the_precheck_refuses_a_chosen_document_that_expires_before_the_promise(case):
    citizen, app, material, due = case
    doc = a_document(citizen, material, due)
    applications.choose_document(app, material.requirement_id, doc.id)
    field = f"m_{material.requirement_id}"
    assert field not in {p.field for p in applications.precheck(app)}
    doc.valid_until = due - timedelta(days=1)  # e.g. corrected after the choice was made
    db.session.flush()
    problems = {p.field: p.message for p in applications.precheck(app)}
    assert field in problems and due.isoformat() in problems[field]


def test_usable_until_compares_with_the_date_it_is_given(case):
    citizen, _, material, due = case
    doc = a_document(citizen, material, TODAY + timedelta(days=2))
    assert reuse.usable_until(doc, TODAY) is None
    assert reuse.usable_until(doc, TODAY + timedelta(days=2)) is None
    assert reuse.usable_until(doc, TODAY + timedelta(days=3)) is not None
    doc.valid_until = None  # 长期
    assert reuse.usable_until(doc, due + timedelta(days=3650)) is None


def test_of_two_documents_of_a_grade_the_one_valid_longest_is_proposed(case):
    citizen, app, material, due = case
    longer = a_document(citizen, material, due + timedelta(days=100))
    shorter = a_document(citizen, material, due + timedelta(days=10))  # newer, not better
    proposal = reuse.propose_materials(citizen.id, [material.requirement], due)[0]
    assert proposal.document.id == longer.id
    assert [d.id for d in proposal.alternatives] == [shorter.id]
    lasting = a_document(citizen, material, None)  # 长期: valid without an end
    proposal = reuse.propose_materials(citizen.id, [material.requirement], due)[0]
    assert proposal.document.id == lasting.id
    assert [d.id for d in proposal.alternatives] == [longer.id, shorter.id]
    resync(app)
    assert material.document_id == lasting.id


def test_a_revoked_document_is_never_proposed(case):
    citizen, app, material, due = case
    doc = a_document(citizen, material, due + timedelta(days=100), grade=Grade.A)
    doc.status = DocumentStatus.revoked
    db.session.flush()
    proposal = reuse.propose_materials(citizen.id, [material.requirement], due)[0]
    assert proposal.kind == "upload" and proposal.document is None
    assert reuse.usable_until(doc, TODAY) is not None
    resync(app)
    assert material.document_id is None

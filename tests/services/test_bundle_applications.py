"""一件事: each question once, one document per material type, one submission, fan-out."""

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Application, Bundle, Event, Grade, User
from seeds.factories import make_png
from services import bundle_applications as svc
from services import clock
from services.documents import add_document
from services.errors import NotFound, ValidationError


@pytest.fixture
def parent(app_ctx):
    owner = db.session.scalar(select(User).where(User.phone == "13800000002"))
    bundle = db.session.scalar(select(Bundle).where(Bundle.code == "B001"))
    return owner, svc.start_bundle_draft(actor=owner, applicant=owner.citizen, bundle=bundle)


def test_a_child_draft_per_item_routed_to_each_department(parent):
    owner, draft = parent
    bundle = draft.bundle
    assert len(draft.children) == len(bundle.entries) >= 2
    assert {c.department_id for c in draft.children} == {
        e.item.department_id for e in bundle.entries
    }
    assert draft.item_version_id is None and draft.title == "出生一件事"
    again = svc.start_bundle_draft(actor=owner, applicant=owner.citizen, bundle=bundle)
    assert again.id == draft.id


def test_shared_questions_are_asked_once(parent):
    _, draft = parent
    merged = svc.merge_questions(draft.children, "form")
    total = sum(len(c.item_version.questions) for c in draft.children)
    keys = [m.key for m in merged]
    assert len(keys) == len(set(keys))
    assert len(merged) < total  # several items ask for the same thing
    assert any(len(m.sources) > 1 for m in merged)


def answer_everything(owner, draft):
    conds = svc.merge_questions(draft.children, "condition")
    svc.save_bundle_conditions(draft, {m.key: m.question["options"][-1][0] for m in conds})
    values = svc.bundle_prefill(draft, owner.citizen)
    for m in svc.merge_questions(draft.children, "form"):
        q = m.question
        if values.get(m.key) in (None, ""):
            values[m.key] = {
                "select": (q.get("options") or [["x"]])[0][0],
                "multiselect": [(q.get("options") or [["x"]])[0][0]],
                "checkbox": "y",
                "number": str(q.get("min") or 1),
                "money": "1",
                "date": clock.local_today().isoformat(),
                "id_number": owner.citizen.id_number,
                "phone": "13800000002",
            }.get(q["type"], "测试")
    svc.save_bundle_form(draft, values)
    choices = {}
    for row in svc.material_rows(draft):
        if row.necessity == "shared":
            continue
        doc = add_document(
            owner=owner.citizen,
            material_type=row.material_type,
            data=make_png(),
            content_type="image/png",
            filename="scan.png",
            grade=Grade.C,
            source="upload",
            issued_on=clock.local_today(),
        )
        choices[row.material_type.id] = f"doc:{doc.id}"
    svc.choose_bundle_materials(draft, choices, owner.citizen)
    return choices


def test_one_document_per_material_type_serves_every_item(parent):
    owner, draft = parent
    choices = answer_everything(owner, draft)
    rows = svc.material_rows(draft)
    type_ids = [r.material_type.id for r in rows]
    assert len(type_ids) == len(set(type_ids))
    for row in rows:
        if row.material_type.id in choices:
            doc_id = int(choices[row.material_type.id][4:])
            assert all(
                m.document_id == doc_id
                for child in draft.children
                for m in child.materials
                if m.requirement.material_type_id == row.material_type.id
            )


def test_submit_once_fans_out_to_child_cases(parent):
    owner, draft = parent
    with pytest.raises(ValidationError):
        svc.submit_bundle(owner, draft.id, draft.submit_token)
    answer_everything(owner, draft)
    assert svc.precheck_bundle(draft) == []
    submitted = svc.submit_bundle(owner, draft.id, draft.submit_token)
    assert submitted.number.startswith("YJ") and submitted.status == "submitted"
    assert all(c.status == "submitted" and c.number.startswith("WB") for c in submitted.children)
    parent_id, number, token = submitted.id, submitted.number, draft.submit_token
    owner_id = owner.id
    children = sorted((c.id, c.number) for c in submitted.children)
    db.session.commit()  # the first request ends ...
    db.session.remove()  # ... and the replay is a new request with a fresh session

    replay = svc.submit_bundle(db.session.get(User, owner_id), parent_id, token)
    assert replay is not submitted
    assert (replay.id, replay.number, replay.status) == (parent_id, number, "submitted")
    db.session.expire_all()
    assert sorted((c.id, c.number) for c in replay.children) == children  # none renumbered
    rows = db.session.scalars(
        select(Application.id).where(
            Application.parent_id == parent_id, Application.number.is_not(None)
        )
    ).all()
    assert sorted(rows) == [c[0] for c in children]
    numbers = [number] + [c[1] for c in children]
    assert db.session.scalar(
        select(func.count()).select_from(Application).where(Application.number.in_(numbers))
    ) == len(numbers)
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.action == "submitted", Event.application_id == parent_id)
        )
        == 1
    )
    assert svc.combined_status(replay) == (0, len(children))


def test_another_citizen_cannot_touch_the_bundle_draft(parent):
    _, draft = parent
    stranger = db.session.scalar(select(User).where(User.phone == "13800000001"))
    with pytest.raises(NotFound):
        svc.load_parent(stranger, draft.id)
    with pytest.raises(NotFound):
        svc.submit_bundle(stranger, draft.id, draft.submit_token)


def submitted_bundle(owner):
    bundle = db.session.scalar(select(Bundle).where(Bundle.code == "B001"))
    draft = svc.start_bundle_draft(actor=owner, applicant=owner.citizen, bundle=bundle)
    answer_everything(owner, draft)
    return svc.submit_bundle(owner, draft.id, draft.submit_token)


def events_of(app, action):
    from portal.models import Event

    return list(
        db.session.scalars(
            select(Event).where(Event.application_id == app.id, Event.action == action)
        )
    )


def test_withdrawing_a_bundle_withdraws_every_open_child_and_keeps_the_decided(app_ctx):
    from services import applications, workflow

    owner = db.session.scalar(select(User).where(User.phone == "13800000002"))
    parent = submitted_bundle(owner)
    decided, *open_children = parent.children
    assert open_children
    workflow.perform(None, decided.id, "approve_instantly", decided.version)
    decided_status = decided.status
    assert decided_status not in workflow.TRANSITIONS["withdraw"].sources
    applications.withdraw_application(owner, parent.id, "不办了")
    assert parent.status == "withdrawn"
    assert all(c.status == "withdrawn" for c in open_children)
    assert decided.status == decided_status
    assert workflow.kept_children(parent) == [decided]
    [parent_event] = events_of(parent, "withdrawn")
    assert parent_event.details["children_kept"] == {decided.number: decided_status}
    assert sorted(parent_event.details["children_withdrawn"]) == sorted(
        c.number for c in open_children
    )
    for child in open_children:
        [event] = events_of(child, "withdrawn")
        assert event.details["parent"] == parent.number and event.details["reason"] == "不办了"
    assert events_of(decided, "withdrawn") == []


def test_a_child_decided_during_the_withdrawal_goes_on_and_a_stale_one_stops_it(app_ctx):
    from sqlalchemy import update

    from services import applications
    from services.errors import Conflict

    owner = db.session.scalar(select(User).where(User.phone == "13800000002"))
    parent = submitted_bundle(owner)
    raced, *others = parent.children
    # the department decides one child behind this session's back: it is kept, the rest withdrawn
    db.session.execute(
        update(Application)
        .where(Application.id == raced.id)
        .values(status="approved", version=Application.version + 1)
        .execution_options(synchronize_session=False)
    )
    applications.withdraw_application(owner, parent.id)
    assert parent.status == "withdrawn" and raced.status == "approved"
    assert all(c.status == "withdrawn" for c in others)

    elder = db.session.scalar(select(User).where(User.phone == "13800000003"))
    second = submitted_bundle(elder)
    first_child = second.children[0]
    # a child changed but still open: the whole withdrawal is refused, nothing is half-done
    db.session.execute(
        update(Application)
        .where(Application.id == first_child.id)
        .values(version=Application.version + 1)
        .execution_options(synchronize_session=False)
    )
    savepoint = db.session.begin_nested()
    with pytest.raises(Conflict):
        applications.withdraw_application(elder, second.id)
    savepoint.rollback()
    db.session.expire_all()
    assert db.session.get(Application, second.id).status == "submitted"
    assert all(c.status == "submitted" for c in db.session.get(Application, second.id).children)

"""Drafts, answers, material choices, pre-check and exactly-once submission."""

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Application, Channel, Document, Event, Grade, ServiceItem, User
from seeds.factories import make_png
from services import applications as svc
from services import clock, numbering
from services.documents import add_document
from services.errors import Conflict, NotFound, ValidationError


def user(phone):
    return db.session.scalar(select(User).where(User.phone == phone))


def item_named(name):
    return next(
        i
        for i in db.session.scalars(select(ServiceItem))
        if i.published_version and i.published_version.name == name
    )


def fill(app, citizen):
    """Answer everything the way a citizen would: conditions, form, materials."""
    version = app.item_version
    svc.save_conditions(app, {q["key"]: q["options"][0][0] for q in version.condition_questions})
    values = svc.prefill(app, citizen)
    for q in version.questions:
        if q["key"] not in values or values[q["key"]] in ("", None):
            values[q["key"]] = {
                "select": (q.get("options") or [["x"]])[0][0],
                "multiselect": [(q.get("options") or [["x"]])[0][0]],
                "checkbox": "y",
                "number": str(q.get("min") or 1),
                "money": "1",
                "date": clock.local_today().isoformat(),
            }.get(q["type"], "测试")
    svc.save_form(app, values)
    for material in app.materials:
        if material.satisfied_by.value == "missing":
            doc = add_document(
                owner=citizen,
                material_type=material.requirement.material_type,
                data=make_png(),
                content_type="image/png",
                filename="scan.png",
                grade=Grade.C,
                source="upload",
                issued_on=clock.local_today(),
            )
            svc.choose_document(app, material.requirement_id, doc.id)


@pytest.fixture
def newcomer(app_ctx):
    return user("13800000002")


def test_a_draft_is_resumed_not_duplicated(newcomer):
    item = item_named("居住证申领")
    first = svc.start_draft(actor=newcomer, applicant=newcomer.citizen, item=item)
    again = svc.start_draft(actor=newcomer, applicant=newcomer.citizen, item=item)
    assert first.id == again.id and first.status == "draft" and first.submit_token


def test_prefill_from_profile_and_from_earlier_answers(newcomer):
    item = item_named("居住证申领")
    app = svc.start_draft(actor=newcomer, applicant=newcomer.citizen, item=item)
    values = svc.prefill(app, newcomer.citizen)
    by_prefill = {q["prefill"]: q["key"] for q in app.item_version.questions if q.get("prefill")}
    assert values[by_prefill["name"]] == newcomer.citizen.name
    assert values[by_prefill["id_number"]] == newcomer.citizen.id_number
    other = svc.start_draft(actor=newcomer, applicant=newcomer.citizen, item=item_named("失业登记"))
    other.form_data = {by_prefill["phone"]: "13911110000"}
    db.session.flush()
    assert svc.prefill(app, newcomer.citizen)[by_prefill["phone"]] == "13911110000"


@pytest.mark.parametrize(
    "question,raw,ok",
    [
        ({"type": "number", "min": 1, "max": 10}, "11", False),
        ({"type": "number"}, "abc", False),
        ({"type": "number"}, "1.5", False),
        ({"type": "money"}, "12.345", False),
        ({"type": "money"}, "-1", False),
        ({"type": "money"}, "12.34", True),
        ({"type": "date"}, "2026-02-30", False),
        ({"type": "date"}, "2026-02-28", True),
        ({"type": "select", "options": [["a", "A"]]}, "b", False),
        ({"type": "multiselect", "options": [["a", "A"], ["b", "B"]]}, ["a", "z"], False),
        ({"type": "id_number"}, "110105194912310021", False),
        ({"type": "id_number"}, "11010519491231002x", True),
        ({"type": "phone"}, "12345", False),
        ({"type": "text", "max_length": 5}, "六个字的文本", False),
        ({"type": "text"}, "tab\tinside", False),
        ({"type": "text", "required": True}, "   ", False),
        ({"type": "unknown"}, "x", False),
    ],
)
def test_answers_are_checked_by_type(question, raw, ok):
    if ok:
        svc.clean_answer(question, raw)
    else:
        with pytest.raises(ValueError):
            svc.clean_answer(question, raw)


def test_bad_form_values_name_the_field_and_change_nothing(newcomer):
    app = svc.start_draft(actor=newcomer, applicant=newcomer.citizen, item=item_named("居住证申领"))
    id_key = next(q["key"] for q in app.item_version.questions if q["type"] == "id_number")
    with pytest.raises(ValidationError) as err:
        svc.save_form(app, {id_key: "123"})
    assert f"q_{id_key}" in err.value.errors
    assert app.form_data == {}


def test_precheck_lists_everything_missing_at_once(newcomer):
    app = svc.start_draft(
        actor=newcomer, applicant=newcomer.citizen, item=item_named("内地居民结婚登记")
    )
    problems = svc.precheck(app)
    fields = {p.field for p in problems}
    assert any(f.startswith("q_") for f in fields)
    assert len(problems) >= 2
    with pytest.raises(ValidationError):
        svc.submit_application(newcomer, app.id, app.submit_token)
    assert app.status == "draft"


def test_another_citizens_document_or_draft_is_refused(newcomer):
    holder = user("13800000001")
    app = svc.start_draft(actor=newcomer, applicant=newcomer.citizen, item=item_named("居住证申领"))
    svc.save_conditions(
        app, {q["key"]: q["options"][0][0] for q in app.item_version.condition_questions}
    )
    material = app.materials[0]
    theirs = db.session.scalar(select(Document).where(Document.owner_id == holder.citizen_id))
    with pytest.raises(NotFound):
        svc.choose_document(app, material.requirement_id, theirs.id)
    with pytest.raises(NotFound):
        svc.get_own_draft(holder, app.id)
    with pytest.raises(NotFound):
        svc.submit_application(holder, app.id, app.submit_token)


def test_an_expired_document_chosen_by_hand_is_refused_with_the_reason(newcomer):
    app = svc.start_draft(actor=newcomer, applicant=newcomer.citizen, item=item_named("居住证申领"))
    svc.save_conditions(
        app, {q["key"]: q["options"][0][0] for q in app.item_version.condition_questions}
    )
    material = app.materials[0]
    doc = add_document(
        owner=newcomer.citizen,
        material_type=material.requirement.material_type,
        data=make_png(),
        content_type="image/png",
        filename="old.png",
        grade=Grade.B,
        source="counter",
        issued_on=clock.local_today() - timedelta(days=400),
    )
    doc.valid_until = clock.local_today() - timedelta(days=1)
    db.session.flush()
    with pytest.raises(ValidationError) as err:
        svc.choose_document(app, material.requirement_id, doc.id)
    assert "有效期至" in err.value.errors[f"m_{material.requirement_id}"]


def test_submit_once_assigns_a_number_and_replay_returns_the_same_case(newcomer):
    app = svc.start_draft(actor=newcomer, applicant=newcomer.citizen, item=item_named("居住证申领"))
    fill(app, newcomer.citizen)
    assert svc.precheck(app) == []
    submitted = svc.submit_application(newcomer, app.id, app.submit_token)
    assert submitted.status == "submitted" and submitted.number.startswith("WB")
    assert submitted.materials_required >= 1
    case_id, number, token, user_id = submitted.id, submitted.number, app.submit_token, newcomer.id
    applicant_id, version_id = submitted.applicant_id, submitted.item_version_id
    db.session.commit()  # the first request ends ...
    db.session.remove()  # ... and the replay is a new request with a fresh session

    actor = db.session.get(User, user_id)
    replay = svc.submit_application(actor, case_id, token)
    assert replay is not submitted
    assert (replay.id, replay.number, replay.status) == (case_id, number, "submitted")
    db.session.expire_all()
    assert db.session.get(Application, case_id).number == number  # nothing renumbered it
    cases = db.session.scalars(
        select(Application.id).where(
            Application.applicant_id == applicant_id,
            Application.item_version_id == version_id,
            Application.status != "draft",
        )
    ).all()
    assert cases == [case_id]
    assert count(Application, Application.number == number) == 1
    assert count(Event, Event.action == "submitted", Event.application_id == case_id) == 1
    with pytest.raises(Conflict):
        svc.submit_application(actor, case_id, "forged-token")


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_returning_citizen_reuses_everything_on_file(app_ctx):
    holder = user("13800000001")
    item = item_named("居住证申领")
    app = svc.start_draft(actor=holder, applicant=holder.citizen, item=item)
    svc.save_conditions(
        app, {q["key"]: q["options"][0][0] for q in item.published_version.condition_questions}
    )
    by_type = {m.requirement.material_type.name: m.satisfied_by.value for m in app.materials}
    assert by_type.get("居民身份证") in ("elicence", "library"), by_type


def test_fifty_concurrent_submissions_make_exactly_one_case(database_factory):
    app = database_factory("submit", seed=True)
    with app.test_request_context():
        citizen_user = user("13800000002")
        draft = svc.start_draft(
            actor=citizen_user, applicant=citizen_user.citizen, item=item_named("居住证申领")
        )
        fill(draft, citizen_user.citizen)
        db.session.commit()
        draft_id, token, user_id = draft.id, draft.submit_token, citizen_user.id
        db.session.remove()

    numbers, errors = [], []
    barrier = threading.Barrier(50)

    def submit():
        try:
            with app.test_request_context():
                actor = db.session.get(User, user_id)
                db.session.commit()  # end the read, so no thread waits at the barrier holding a lock
                barrier.wait(30)
                result = svc.submit_application(actor, draft_id, token)
                db.session.commit()
                numbers.append(result.number)
                db.session.remove()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    assert len(numbers) == 50 and len(set(numbers)) == 1
    with app.app_context():
        count = db.session.scalar(
            select(func.count()).select_from(Application).where(Application.number == numbers[0])
        )
        assert count == 1
        db.session.remove()


def test_case_numbers_never_collide_under_concurrency(database_factory):
    app = database_factory("numbers", seed=False)
    got, errors = [], []

    def take():
        try:
            with app.app_context():
                for _ in range(10):
                    got.append(numbering.new_case_number(Channel.online, date(2026, 11, 24)))
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    assert len(got) == 80 and len(set(got)) == 80
    assert sorted(got)[0] == "WB20261124000001" and sorted(got)[-1] == "WB20261124000080"


def test_a_case_number_does_not_wait_for_another_submission_to_commit(database_factory, backend):
    """On PostgreSQL a case number is drawn in a transaction of its own: a submission that has
    drawn one but not yet committed does not hold the day's counter, so the next submission
    gets its number at once (64 citizens pressing 提交 together waited there). The first one
    rolled back: its number is a gap, never handed out again. SQLite writes one transaction at
    a time anyway: there the number is the submission's and goes back with it."""
    app = database_factory("numbers-alone", seed=False)
    day = date(2026, 11, 24)
    first_context = app.app_context()
    first_context.push()
    try:
        first = numbering.new_case_number(Channel.online, day)  # not committed
        if backend == "sqlite":
            db.session.rollback()
            assert numbering.new_case_number(Channel.online, day) == first
            db.session.rollback()
            return
        second: list[str] = []

        def draw() -> None:
            with app.app_context():
                second.append(numbering.new_case_number(Channel.online, day))
                db.session.rollback()
                db.session.remove()

        thread = threading.Thread(target=draw)
        thread.start()
        thread.join(30)  # would wait for the first submission's rollback below, then pass late
        drawn_while_open = bool(second)
        db.session.rollback()
        thread.join(30)
        assert drawn_while_open, "the second number waited for the first submission"
        assert first == "WB20261124000001" and second == ["WB20261124000002"]
        assert numbering.new_case_number(Channel.online, day) == "WB20261124000003"
    finally:
        db.session.rollback()
        db.session.remove()
        first_context.pop()

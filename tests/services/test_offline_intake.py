"""离线受理: an intake typed offline is sent once, in one transaction, by the clerk who made it.

A refusal writes nothing (no case, citizen, document row or file; not even the key, so staff
resend with the same key); a replay of a sent key answers with the same case; the clerk's
open context is left exactly as it was; another clerk's key is not found."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    Application,
    Channel,
    Citizen,
    CounterContext,
    Document,
    Event,
    IntakeKey,
    MaterialType,
    Role,
    SatisfiedBy,
    User,
    VersionStatus,
)
from seeds.factories import make_png
from services import accounts, applications, case_access, clock, counter, offline_intake
from services.errors import NotFound
from services.offline_intake import IntakeFile, IntakeRefused
from tests.workflow_cases import RESIDENCE_PERMIT, item_named, user


def send_intake(*args):
    """As the request boundary calls it: commit the answer, roll a refusal back."""
    try:
        result = offline_intake.send_intake(*args)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return result


WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(first17: str) -> str:
    """A well-formed 身份证号 (GB 11643 check character) for ``first17``."""
    return (
        first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]
    )


def requirement(item, code):
    return next(r for r in item.published_version.requirements if r.material_type.code == code)


def payload(item, *, name="赵离线", id_number=None, **extra):
    version = item.published_version
    data = {
        "item": item.code,
        "version": version.id,
        "applicant": {
            "name": name,
            "id_number": id_number or resident_id("33010619900307123"),
            "phone": "13900001111",
            "address": "西湖区文三路 1 号",
        },
        "agent": {},
        "conditions": {"basis": "work", "agent": "no"},
        "form": {
            "name": name,
            "id_number": id_number or resident_id("33010619900307123"),
            "phone": "13900001111",
            "address": "西湖区文三路 1 号",
            "move_in_date": "2025-01-02",
        },
        "scans": {
            str(requirement(item, "M056").id): {"issued_on": clock.local_today().isoformat()}
        },
    }
    data.update(extra)
    return data


def scans(item):
    return [
        IntakeFile(requirement(item, "M001").id, "id.png", make_png()),
        IntakeFile(requirement(item, "M056").id, "photo.png", make_png(colour=(250, 250, 250))),
    ]


def counts():
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Application, Citizen, Document, IntakeKey, Event)
    }


def stored_files():
    return sorted(p for p in Path(current_app.config["UPLOAD_DIR"]).rglob("*") if p.is_file())


@pytest.fixture
def clerk(app_ctx):
    return user("counter01")


def test_an_offline_intake_becomes_one_submitted_counter_case(clerk):
    item = item_named(RESIDENCE_PERMIT)
    serving = user("13800000001").citizen
    ctx = counter.begin_context(clerk, serving)
    noted = list(ctx.application_ids)
    key = str(uuid.uuid4())
    files_before = set(stored_files())

    answer, replayed = send_intake(clerk, key, payload(item), scans(item))

    assert not replayed and answer["status"] == "submitted" and answer["number"].startswith("CK")
    case = db.session.get(Application, answer["application_id"])
    assert case.number == answer["number"] and case.status == "submitted"
    assert case.channel == Channel.counter and case.created_by_id == clerk.id
    citizen = case.applicant
    assert citizen.name == "赵离线" and citizen.phone == "13900001111"
    assert answer["applicant"] == "赵*线"
    chosen = {m.requirement.material_type.code: m for m in case.materials}
    for code in ("M001", "M056"):
        doc = db.session.get(Document, chosen[code].document_id)
        assert doc.owner_id == citizen.id and doc.source == "counter"
        assert Path(current_app.config["UPLOAD_DIR"], doc.storage_key).is_file()
    assert chosen["M022"].satisfied_by == SatisfiedBy.shared
    # every file written is named by one of its document rows: no orphan for `files cleanup`
    upload_dir = Path(current_app.config["UPLOAD_DIR"])
    new_keys = {p.relative_to(upload_dir).as_posix() for p in set(stored_files()) - files_before}
    assert new_keys == {
        db.session.get(Document, chosen[code].document_id).storage_key for code in ("M001", "M056")
    }
    actors = set(db.session.scalars(select(Event.actor_id).where(Event.application_id == case.id)))
    assert actors == {clerk.id}
    key_row = db.session.scalar(select(IntakeKey).where(IntakeKey.key == key))
    assert key_row.application_id == case.id and key_row.staff_id == clerk.id
    # the clerk is still serving the same citizen, in the same context, with nothing added
    still = counter.current_context(clerk)
    assert still.id == ctx.id and still.ended_at is None and still.citizen_id == serving.id
    assert list(still.application_ids) == noted
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(CounterContext)
            .where(CounterContext.staff_id == clerk.id, CounterContext.ended_at.is_(None))
        )
        == 1
    )


def test_a_replay_answers_with_the_same_case_and_writes_nothing(clerk):
    item = item_named(RESIDENCE_PERMIT)
    key = str(uuid.uuid4())
    first, _ = send_intake(clerk, key, payload(item), scans(item))
    before, files = counts(), stored_files()
    again, replayed = send_intake(clerk, key, payload(item), scans(item))
    assert replayed and again == first
    assert counts() == before and stored_files() == files


def test_a_key_reused_for_another_intake_is_refused(clerk):
    item = item_named(RESIDENCE_PERMIT)
    key = str(uuid.uuid4())
    answer, _ = send_intake(clerk, key, payload(item), scans(item))
    before = counts()
    with pytest.raises(IntakeRefused) as refused:
        send_intake(clerk, key, payload(item, name="钱离线"), scans(item))
    assert f"已受理为办件 {answer['number']}" in refused.value.errors[""]
    assert counts() == before


def test_a_name_that_does_not_match_the_id_number_is_refused_and_nothing_is_written(clerk):
    item = item_named(RESIDENCE_PERMIT)
    known = user("13800000002").citizen
    key = str(uuid.uuid4())
    before, files = counts(), stored_files()
    with pytest.raises(IntakeRefused) as refused:
        send_intake(
            clerk, key, payload(item, name="李不对", id_number=known.id_number), scans(item)
        )
    assert refused.value.status_code == 422
    assert refused.value.errors == {"a_name": "姓名与该身份证号的登记信息不一致"}
    assert counts() == before and stored_files() == files
    # the refusal is not final: fixed, the same key goes through
    answer, replayed = send_intake(
        clerk, key, payload(item, name=known.name, id_number=known.id_number), scans(item)
    )
    assert (
        not replayed
        and db.session.get(Application, answer["application_id"]).applicant_id == known.id
    )


def test_a_new_person_with_another_persons_phone_is_refused_and_nothing_is_written(clerk):
    """As at the counter: the phone of another citizen (here 13800000002's login) is refused
    next to the field — not a server error, which the page would retry for ever."""
    item = item_named(RESIDENCE_PERMIT)
    taken = user("13800000002").phone
    data = payload(item, name="周新人", id_number=resident_id("33010619881120432"))
    data["applicant"]["phone"] = taken
    key = str(uuid.uuid4())
    before, files = counts(), stored_files()
    with pytest.raises(IntakeRefused) as refused:
        send_intake(clerk, key, data, scans(item))
    assert refused.value.status_code == 422
    assert refused.value.errors == {"a_phone": "该手机号已登记在他人名下，请核实后重新输入"}
    assert counts() == before and stored_files() == files
    # a known person: the name is checked as well, and both are reported at once
    wrong = payload(item, name="李不对", id_number=user("13800000003").citizen.id_number)
    wrong["applicant"]["phone"] = taken
    with pytest.raises(IntakeRefused) as refused:
        send_intake(clerk, str(uuid.uuid4()), wrong, scans(item))
    assert refused.value.errors == {
        "a_phone": "该手机号已登记在他人名下，请核实后重新输入",
        "a_name": "姓名与该身份证号的登记信息不一致",
    }
    assert counts() == before and stored_files() == files
    data["applicant"]["phone"] = "13900004444"  # fixed, the same key goes through
    answer, replayed = send_intake(clerk, key, data, scans(item))
    assert (
        not replayed
        and db.session.get(Application, answer["application_id"]).applicant.phone == "13900004444"
    )


def test_a_refusal_after_the_files_were_stored_leaves_no_file_and_no_row(clerk):
    item = item_named(RESIDENCE_PERMIT)
    bad = payload(item)
    bad["form"]["move_in_date"] = "2025-02-30"
    bad["scans"] = {}  # the photo needs its issue date: a second error, found after the files
    before, files = counts(), stored_files()
    with pytest.raises(IntakeRefused) as refused:
        send_intake(clerk, str(uuid.uuid4()), bad, scans(item))
    errors = refused.value.errors
    assert errors["q_move_in_date"] == "日期不存在"
    assert counts() == before and stored_files() == files


def test_files_are_stored_then_removed_when_submission_is_refused(clerk):
    item = item_named(RESIDENCE_PERMIT)
    photo = requirement(item, "M056")
    before, files = counts(), stored_files()
    with pytest.raises(IntakeRefused) as refused:  # the photo scanned, the 身份证 missing
        send_intake(
            clerk, str(uuid.uuid4()), payload(item), [IntakeFile(photo.id, "p.png", make_png())]
        )
    assert refused.value.errors == {f"m_{requirement(item, 'M001').id}": "缺少材料：居民身份证"}
    assert counts() == before and stored_files() == files


def test_bad_fields_are_all_reported_with_the_offline_form_names(clerk):
    item = item_named(RESIDENCE_PERMIT)
    data = payload(item, id_number="330106199003071230")
    data["applicant"]["phone"] = "123"
    data["agent"] = {"name": "钱", "id_number": "1"}
    with pytest.raises(IntakeRefused) as refused:
        send_intake(clerk, str(uuid.uuid4()), data, [])
    assert set(refused.value.errors) == {"a_phone", "a_id_number", "g_name", "g_id_number"}


def test_a_withdrawn_or_changed_item_is_refused(clerk):
    item = item_named(RESIDENCE_PERMIT)
    stale = payload(item, version=item.published_version.id - 1)
    with pytest.raises(IntakeRefused) as refused:
        send_intake(clerk, str(uuid.uuid4()), stale, scans(item))
    assert "已更新" in refused.value.errors["item"]
    item.published_version.status = VersionStatus.archived
    db.session.flush()
    with pytest.raises(IntakeRefused) as refused:
        send_intake(clerk, str(uuid.uuid4()), payload(item), scans(item))
    assert "已下线" in refused.value.errors["item"]


def test_only_the_clerk_who_made_the_intake_may_replay_it(clerk):
    item = item_named(RESIDENCE_PERMIT)
    key = str(uuid.uuid4())
    answer, _ = send_intake(clerk, key, payload(item), scans(item))
    other = accounts.create_staff(
        username="counter09",
        password="Demo@2026x",
        role=Role.counter,
        display_name="综合窗口九",
        department=clerk.department,
    )
    with pytest.raises(NotFound):
        send_intake(other, key, payload(item), scans(item))
    with pytest.raises(Exception, match="综合窗口"):
        send_intake(user("13800000001"), str(uuid.uuid4()), payload(item), [])
    # the case is an ordinary counter case now: not the clerk's to act on unless serving
    case = db.session.get(Application, answer["application_id"])
    assert not case_access.may_act_on(clerk, case) and not case_access.may_act_on(other, case)


def test_an_intake_draft_is_only_its_own_clerks(clerk):
    item = item_named(RESIDENCE_PERMIT)
    citizen = user("13800000003").citizen
    claim = IntakeKey(key=str(uuid.uuid4()), staff_id=clerk.id, response={})
    db.session.add(claim)
    db.session.flush()
    draft = applications.start_draft(
        actor=clerk, applicant=citizen, item=item, channel=Channel.counter, intake=claim
    )
    other = accounts.create_staff(
        username="counter08",
        password="Demo@2026x",
        role=Role.counter,
        display_name="综合窗口八",
        department=clerk.department,
    )
    assert case_access.may_act_on(clerk, draft) and not case_access.may_act_on(other, draft)
    with pytest.raises(NotFound):  # a key already used for a draft starts no second one
        applications.start_draft(
            actor=clerk, applicant=citizen, item=item, channel=Channel.counter, intake=claim
        )
    material_type = db.session.scalar(select(MaterialType).where(MaterialType.code == "M056"))
    with pytest.raises(NotFound):  # another clerk cannot scan into it with this key
        from services.documents import upload_document

        upload_document(
            other,
            material_type_id=material_type.id,
            data=make_png(),
            filename="a.png",
            issued_on=clock.local_today(),
            owner=citizen,
            intake=claim,
        )


def test_two_replays_at_the_same_moment_make_one_case(database_factory):
    app = database_factory("offline", seed=True)
    key = str(uuid.uuid4())
    with app.app_context():
        clerk_id = user("counter01").id
        item = item_named(RESIDENCE_PERMIT)
        data = payload(item)
        files = scans(item)
        db.session.remove()

    barrier = threading.Barrier(2)

    def send():
        try:
            with app.app_context():
                clerk = db.session.get(User, clerk_id)
                db.session.commit()  # hold no lock while waiting at the barrier
                barrier.wait(30)
                return send_intake(clerk, key, data, files)
        except BaseException as exc:  # surfaced below
            return exc
        finally:
            with app.app_context():
                db.session.remove()

    with ThreadPoolExecutor(2) as pool:
        outcomes = [future.result(120) for future in [pool.submit(send) for _ in range(2)]]

    assert len(outcomes) == 2 and all(isinstance(o, tuple) for o in outcomes), outcomes
    (first, first_replayed), (second, second_replayed) = outcomes
    assert first == second and sorted([first_replayed, second_replayed]) == [False, True]
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(Application)
                .where(Application.number == first["number"])
            )
            == 1
        )
        assert (
            db.session.scalar(
                select(func.count()).select_from(IntakeKey).where(IntakeKey.key == key)
            )
            == 1
        )
        citizen = db.session.scalar(select(Citizen).where(Citizen.name == "赵离线"))
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(Application)
                .where(Application.applicant_id == citizen.id)
            )
            == 1
        )
        assert (
            db.session.scalar(
                select(func.count()).select_from(Document).where(Document.owner_id == citizen.id)
            )
            == 2
        )
        db.session.remove()


def test_the_catalogue_lists_published_items_with_what_the_form_needs(app_ctx):
    items = {i["name"]: i for i in offline_intake.catalogue()}
    permit = items[RESIDENCE_PERMIT]
    assert [c["key"] for c in permit["conditions"]] == ["basis", "agent"]
    assert "move_in_date" in [q["key"] for q in permit["questions"]]
    photo = next(m for m in permit["materials"] if m["name"] == "证件照数码回执")
    assert photo["validity"] == "months" and photo["necessity"] == "required"
    assert all(i["version"] for i in items.values())

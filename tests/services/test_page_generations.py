"""Page generations are kept by the database (migration 0025's triggers): every INSERT,
UPDATE and DELETE of a table of services.page_scopes.WATCHED bumps exactly the scopes of the
row written — its citizens, users, departments, or the city — and no one else's, however it is
written (here raw SQL, as a job or a bulk load writes). A cached personal page is keyed by
these generations, so a write that bumps nothing would leave a page stale."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import delete, func, insert, select, update

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationMaterial,
    Authorisation,
    CalendarDay,
    Citizen,
    CorrectionRequest,
    CounterContext,
    Department,
    Document,
    ELicence,
    Event,
    MaterialRequirement,
    MaterialType,
    Notice,
    PageGeneration,
    Rating,
    Role,
    StaffReminder,
    StaffRole,
    User,
    Visit,
)
from portal.models.base import utcnow
from services.page_scopes import (
    CITY_SCOPE,
    WATCHED,
    citizen_scope,
    department_scope,
    user_scope,
)

EVENTS = ("insert", "update", "delete")


def generations() -> dict[str, int]:
    """Scope -> generation: the sum of its rows (PostgreSQL appends one a write)."""
    return dict(
        db.session.execute(
            select(PageGeneration.scope, func.sum(PageGeneration.generation)).group_by(
                PageGeneration.scope
            )
        ).all()
    )


def bumped(before: dict[str, int]) -> dict[str, int]:
    """Scope -> how much its generation grew since ``before`` (only the scopes that grew)."""
    return {
        scope: n - before.get(scope, 0)
        for scope, n in generations().items()
        if n != before.get(scope, 0)
    }


def kinds(scopes: set[str]) -> set[str]:
    return {scope.split(":")[0] for scope in scopes}


def new_citizen(name: str = "测试") -> int:
    return db.session.execute(
        insert(Citizen.__table__)
        .values(name=name, id_number=uuid.uuid4().hex[:18].upper(), birth_date=date(1980, 1, 1))
        .returning(Citizen.__table__.c.id)
    ).scalar_one()


def new_user(role: Role, citizen_id: int | None = None, department_id: int | None = None) -> int:
    return db.session.execute(
        insert(User.__table__)
        .values(
            role=role,
            username=None if citizen_id else f"t{uuid.uuid4().hex[:12]}",
            display_name="测试",
            password_hash="x",
            citizen_id=citizen_id,
            department_id=department_id,
        )
        .returning(User.__table__.c.id)
    ).scalar_one()


def new_case(applicant: int, agent: int | None, department: int | None) -> int:
    return db.session.execute(
        insert(Application.__table__)
        .values(applicant_id=applicant, agent_id=agent, department_id=department)
        .returning(Application.__table__.c.id)
    ).scalar_one()


@dataclass
class World:
    """Two of each: the row under test belongs to the first, never to the second."""

    applicant: int
    agent: int
    other_citizen: int
    department: int
    other_department: int
    staff: int
    other_staff: int
    case: int
    other_case: int
    requirement: int
    material_type: int

    @property
    def case_people(self) -> set[str]:
        return {citizen_scope(self.applicant), citizen_scope(self.agent)}


@pytest.fixture
def world(app_ctx) -> World:
    departments = db.session.scalars(select(Department.id).order_by(Department.id).limit(2)).all()
    applicant, agent, other = new_citizen("申请人"), new_citizen("代办人"), new_citizen("旁人")
    staff = [new_user(Role.reviewer, department_id=d) for d in departments]
    return World(
        applicant=applicant,
        agent=agent,
        other_citizen=other,
        department=departments[0],
        other_department=departments[1],
        staff=staff[0],
        other_staff=staff[1],
        case=new_case(applicant, agent, departments[0]),
        other_case=new_case(other, None, departments[1]),
        requirement=db.session.scalar(select(MaterialRequirement.id).limit(1)),
        material_type=db.session.scalar(select(MaterialType.id).limit(1)),
    )


@dataclass
class Written:
    """How to write one row of a table, and the scopes each write must bump."""

    model: type
    values: dict
    change: dict  # an UPDATE of a column the row's scopes do not depend on
    scopes: set[str]
    # a write that needs more than the row itself: done before the UPDATE / the DELETE,
    # with the scopes the UPDATE / the DELETE then bumps
    before_update: Callable[[], None] | None = None
    update_scopes: set[str] | None = None
    before_delete: Callable[[], None] | None = None
    delete_scopes: set[str] | None = None
    extra: dict = field(default_factory=dict)


def _unique() -> str:
    return uuid.uuid4().hex


def applications(w: World) -> Written:
    return Written(
        Application,
        {"applicant_id": w.applicant, "agent_id": w.agent, "department_id": w.department},
        {"visit_count": 3},
        {*w.case_people, department_scope(w.department)},
    )


def application_materials(w: World) -> Written:
    return Written(
        ApplicationMaterial,
        {"application_id": w.case, "requirement_id": w.requirement},
        {"verdict_reason": "模糊"},
        w.case_people,
    )


def events(w: World) -> Written:
    return Written(
        Event,
        {"application_id": w.case, "action": "test", "prev_hash": "", "hash": _unique()},
        {"action": "tested"},
        w.case_people,
    )


def notices(w: World) -> Written:
    return Written(
        Notice,
        {
            "application_id": w.case,
            "number": _unique()[:20],
            "kind": "acceptance",
            "check_code": "1234",
            "verify_code": _unique(),
        },
        {"size": 10},
        w.case_people,
    )


def visits(w: World) -> Written:
    return Written(
        Visit,
        {"application_id": w.case, "number": 1, "kind": "counter", "staff_id": w.staff},
        {"reason": "补件"},
        w.case_people,
    )


def correction_requests(w: World) -> Written:
    return Written(
        CorrectionRequest,
        {"application_id": w.case, "round": 1, "items": []},
        {"items": [{"requirement_id": w.requirement}]},
        {*w.case_people, department_scope(w.department)},
    )


def ratings(w: World) -> Written:
    rater = new_citizen("评价人")
    return Written(
        Rating,
        {"application_id": w.case, "citizen_id": rater, "visit_no": 1, "score": 5},
        {"comment": "好"},
        {*w.case_people, citizen_scope(rater)},
    )


def documents(w: World) -> Written:
    return Written(
        Document,
        {"owner_id": w.applicant, "material_type_id": w.material_type, "title": "t", "grade": "C"},
        {"title": "u"},
        {citizen_scope(w.applicant)},
    )


def elicences(w: World) -> Written:
    return Written(
        ELicence,
        {
            "number": _unique()[:30],
            "name": "证",
            "type_code": "T",
            "holder_id": w.applicant,
            "holder_name": "申请人",
            "holder_code": "1",
            "issuer_name": "局",
            "issuer_code": "2",
            "issued_on": date(2026, 1, 1),
            "verify_code": _unique(),
        },
        {"revoke_reason": "test"},
        {citizen_scope(w.applicant)},
    )


def authorisations(w: World) -> Written:
    return Written(
        Authorisation,
        {
            "principal_id": w.applicant,
            "agent_id": w.agent,
            "valid_from": date(2026, 1, 1),
            "valid_until": date(2026, 12, 31),
        },
        {"valid_until": date(2026, 6, 30)},
        w.case_people,
    )


def citizens(w: World) -> Written:
    """A new citizen has no case; once they have one, a change of their name bumps the queue
    of its department; a citizen is deleted only once their cases are."""
    holder: dict[str, int] = {}

    def apply_for_something() -> None:
        holder["case"] = new_case(holder["id"], None, w.department)

    def withdraw_it() -> None:
        db.session.execute(delete(Application).where(Application.id == holder["case"]))

    written = Written(
        Citizen,
        {"name": "新人", "id_number": _unique()[:18], "birth_date": date(1990, 1, 1)},
        {"name": "改名"},
        set(),  # set once the row has an id
        before_update=apply_for_something,
        before_delete=withdraw_it,
    )
    written.extra["holder"] = holder
    return written


def users(w: World) -> Written:
    return Written(
        User,
        {
            "role": Role.citizen,
            "display_name": "新账号",
            "password_hash": "x",
            "citizen_id": w.applicant,
        },
        {"display_name": "改"},
        {citizen_scope(w.applicant)},  # and the new user's own, once it has an id
    )


def staff_roles(w: World) -> Written:
    return Written(
        StaffRole,
        {"user_id": w.staff, "role": Role.counter},
        {"role": Role.admin},
        {user_scope(w.staff)},
    )


def counter_contexts(w: World) -> Written:
    return Written(
        CounterContext,
        {"staff_id": w.staff, "citizen_id": w.other_citizen},
        {"ended_at": utcnow()},
        {user_scope(w.staff)},
    )


def staff_reminders(w: World) -> Written:
    return Written(
        StaffReminder,
        {"department_id": w.department, "user_id": w.staff, "kind": "test", "body": "b"},
        {"body": "c"},
        {department_scope(w.department), user_scope(w.staff)},
    )


def calendar_days(w: World) -> Written:
    return Written(
        CalendarDay,
        {"day": date(2099, 1, 1), "is_workday": False},
        {"note": "元旦"},
        {CITY_SCOPE},
    )


ROWS: dict[str, Callable[[World], Written]] = {
    f.__name__: f
    for f in (
        applications,
        application_materials,
        events,
        notices,
        visits,
        correction_requests,
        ratings,
        documents,
        elicences,
        authorisations,
        citizens,
        users,
        staff_roles,
        counter_contexts,
        staff_reminders,
        calendar_days,
    )
}


@pytest.mark.parametrize("table", sorted(WATCHED))
def test_every_write_to_a_watched_table_bumps_exactly_its_scopes(world, table):
    """INSERT, UPDATE and DELETE each bump the row's scopes once (a row's scopes are distinct
    here), and no other citizen's, user's or department's."""
    assert table in ROWS, f"{table} is watched: say here how to write a row and what it bumps"
    written = ROWS[table](world)
    model = written.model
    assert model.__tablename__ == table
    t = model.__table__

    before = generations()
    key = db.session.execute(insert(t).values(written.values)).inserted_primary_key
    where = sa.and_(*(column == value for column, value in zip(t.primary_key, key, strict=True)))
    if table == "citizens":
        written.extra["holder"]["id"] = key[0]
        written.scopes = {citizen_scope(key[0])}
        written.update_scopes = {citizen_scope(key[0]), department_scope(world.department)}
    if table == "users":
        written.scopes = {*written.scopes, user_scope(key[0])}
    assert kinds(written.scopes | (written.update_scopes or set())) == WATCHED[table]
    assert bumped(before) == dict.fromkeys(written.scopes, 1), "INSERT"

    if written.before_update:
        written.before_update()
    before = generations()
    db.session.execute(update(t).where(where).values(written.change))
    assert bumped(before) == dict.fromkeys(written.update_scopes or written.scopes, 1), "UPDATE"
    if "role" in written.change:  # staff_roles: the key is what changed
        where = sa.and_(t.c.user_id == key[0], t.c.role == written.change["role"])

    if written.before_delete:
        written.before_delete()
    before = generations()
    assert db.session.execute(delete(t).where(where)).rowcount == 1
    assert bumped(before) == dict.fromkeys(written.delete_scopes or written.scopes, 1), "DELETE"


def test_every_watched_table_has_its_three_triggers_and_no_other_table_has_one(app_ctx):
    """At head, also after a later migration rebuilt a table (SQLite drops its triggers)."""
    if db.session.get_bind().dialect.name == "postgresql":
        rows = db.session.execute(
            sa.text(
                "SELECT c.relname, t.tgname FROM pg_trigger AS t"
                " JOIN pg_class AS c ON c.oid = t.tgrelid"
                " WHERE NOT t.tgisinternal AND t.tgname LIKE 'page_generations%'"
            )
        ).all()
    else:
        rows = db.session.execute(
            sa.text(
                "SELECT tbl_name, name FROM sqlite_master"
                " WHERE type = 'trigger' AND name LIKE 'page_generations%'"
            )
        ).all()
    assert sorted(rows) == sorted(
        (table, f"page_generations_{table}_{event}") for table in WATCHED for event in EVENTS
    )


def test_a_case_moved_to_another_department_bumps_both_queues(world):
    before = generations()
    db.session.execute(
        update(Application)
        .where(Application.id == world.case)
        .values(department_id=world.other_department)
    )
    assert bumped(before) == dict.fromkeys(
        {
            *world.case_people,
            department_scope(world.department),
            department_scope(world.other_department),
        },
        1,
    )


def test_a_row_moved_to_another_case_bumps_the_people_of_both(world):
    event = db.session.execute(
        insert(Event.__table__)
        .values(application_id=world.case, action="test", prev_hash="", hash=_unique())
        .returning(Event.__table__.c.id)
    ).scalar_one()
    before = generations()
    db.session.execute(
        update(Event).where(Event.id == event).values(application_id=world.other_case)
    )
    assert bumped(before) == dict.fromkeys(
        {*world.case_people, citizen_scope(world.other_citizen)}, 1
    )


def test_null_scopes_are_skipped_and_a_scope_named_twice_is_bumped_once(world):
    before = generations()
    db.session.execute(insert(StaffReminder.__table__).values(kind="test", body="nobody's"))
    assert bumped(before) == {}
    assert not db.session.scalar(
        select(sa.func.count()).select_from(PageGeneration).where(PageGeneration.scope.like("%:"))
    )

    before = generations()
    new_case(world.applicant, world.applicant, None)  # their own agent, no department yet
    assert bumped(before) == {citizen_scope(world.applicant): 1}


def test_a_bulk_update_bumps_each_scope_once_per_statement_on_postgresql(world, backend):
    """On PostgreSQL a statement bumps each scope once (one upsert per scope, and its row
    locked once): +1 for 600 cases changed by one UPDATE. SQLite's row triggers bump once
    per row (one writer at a time: no lock to share)."""
    db.session.execute(
        insert(Application.__table__),
        [
            {
                "applicant_id": (world.applicant, world.other_citizen)[i % 2],
                "department_id": (world.department, world.other_department)[i % 3 % 2],
            }
            for i in range(600)
        ],
    )
    before = generations()
    changed = db.session.execute(
        update(Application)
        .where(Application.applicant_id.in_([world.applicant, world.other_citizen]))
        .values(visit_count=Application.visit_count + 1)
    ).rowcount
    assert changed == 602
    scopes = {
        citizen_scope(world.applicant),
        citizen_scope(world.agent),  # world.case's agent
        citizen_scope(world.other_citizen),
        department_scope(world.department),
        department_scope(world.other_department),
    }
    grown = bumped(before)
    assert set(grown) == scopes
    if backend == "postgresql":
        assert grown == dict.fromkeys(scopes, 1)

    before = generations()
    db.session.execute(
        delete(Application).where(
            Application.applicant_id.in_([world.applicant, world.other_citizen]),
            Application.agent_id.is_(None),
        )
    )
    assert set(bumped(before)) >= {
        citizen_scope(world.applicant),
        department_scope(world.department),
    }
    if backend == "postgresql":
        assert set(bumped(before).values()) == {1}


def test_a_week_of_the_calendar_bumps_the_city_once_per_statement(app_ctx, backend):
    before = generations()
    db.session.execute(
        insert(CalendarDay.__table__),
        [{"day": date(2099, 2, 1) + timedelta(days=i), "is_workday": i < 5} for i in range(7)],
    )
    grown = bumped(before)
    assert set(grown) == {CITY_SCOPE}
    before = generations()
    db.session.execute(
        update(CalendarDay).where(CalendarDay.day >= date(2099, 2, 1)).values(note="x")
    )
    grown = bumped(before)
    assert set(grown) == {CITY_SCOPE}
    if backend == "postgresql":
        assert grown == {CITY_SCOPE: 1}


def test_the_migration_creates_no_rows_and_its_downgrade_leaves_no_trigger(database_factory):
    from flask_migrate import downgrade, upgrade

    from tests.conftest import MIGRATIONS

    app = database_factory("page-generations-migration", seed=False)
    with app.app_context():
        new_citizen()
        db.session.commit()
        downgrade(directory=str(MIGRATIONS), revision="0024_outbox_claimed_at")
        inspector = sa.inspect(db.engine)
        assert "page_generations" not in inspector.get_table_names()
        new_citizen()  # no trigger left to write to a table that is gone
        db.session.commit()
        upgrade(directory=str(MIGRATIONS))
        assert generations() == {}  # nothing up front: a missing row is generation 0
        citizen = new_citizen()
        assert generations() == {citizen_scope(citizen): 1}
        db.session.rollback()
        db.session.remove()

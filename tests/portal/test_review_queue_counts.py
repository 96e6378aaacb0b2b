"""The queue's counts per department and state are kept by the database (migration 0021's
triggers on applications): they equal a count of the cases after every kind of change — rows
inserted in bulk, a state changed through the ORM or by a bulk UPDATE, a case moved to another
department, rows deleted — and after the jobs fold PostgreSQL's +1/-1 rows together."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, insert, select, update

from portal.extensions import db
from portal.models import Application, Channel, Citizen, Department, ItemVersion, QueueCount
from portal.models.base import utcnow
from services import case_states, clock, jobs, review
from tests.workflow_cases import user


def counted() -> dict[tuple[int, str], int]:
    """Open cases per (department, state), counted from the cases themselves."""
    return {
        (department, status): n
        for department, status, n in db.session.execute(
            select(Application.department_id, Application.status, func.count())
            .where(
                Application.department_id.is_not(None),
                Application.status.in_(case_states.STAFF_OPEN_STATES),
            )
            .group_by(Application.department_id, Application.status)
        )
    }


def kept() -> dict[tuple[int, str], int]:
    return {
        (department, status): n
        for department, status, n in db.session.execute(
            select(QueueCount.department_id, QueueCount.status, func.sum(QueueCount.n)).group_by(
                QueueCount.department_id, QueueCount.status
            )
        )
        if n
    }


def add_rows(version: ItemVersion, statuses: list[str], department_id: int | None) -> list[int]:
    citizen = db.session.scalar(select(Citizen.id).order_by(Citizen.id).limit(1))
    tag = f"QC{len(statuses)}{department_id or 0}{statuses[0][:3]}"
    db.session.execute(
        insert(Application),
        [
            {
                "number": f"{tag}{i:05d}",
                "item_version_id": version.id,
                "department_id": department_id,
                "applicant_id": citizen,
                "channel": Channel.online,
                "status": status,
                "submitted_at": utcnow(),
                "due_date": clock.local_today() + timedelta(days=i % 7),
                "form_data": {},
                "condition_answers": {},
            }
            for i, status in enumerate(statuses)
        ],
    )
    return list(
        db.session.scalars(select(Application.id).where(Application.number.like(f"{tag}%")))
    )


def test_the_kept_counts_equal_the_cases_after_every_kind_of_change(app_ctx):
    reviewer = user("reviewer01")
    other = db.session.scalar(
        select(Department.id).where(Department.id != reviewer.department_id).limit(1)
    )
    version = db.session.scalar(
        select(ItemVersion).where(ItemVersion.department_id == reviewer.department_id).limit(1)
    )
    assert kept() == counted()  # the seed's cases (the migration counted what was there)

    states = [*case_states.STAFF_OPEN_STATES, "draft", "completed", "denied", "withdrawn"]
    ours = add_rows(version, states * 3, reviewer.department_id)
    theirs = add_rows(version, states, other)
    add_rows(version, ["submitted", "draft"], None)  # a 一件事's parent: no department
    db.session.flush()
    assert kept() == counted()
    assert review.queue_counts(reviewer) == {
        s: n for (d, s), n in counted().items() if d == reviewer.department_id
    }

    case = db.session.get(Application, ours[0])  # through the ORM, as the workflow does
    case.status = "in_review" if case.status != "in_review" else "accepted"
    db.session.flush()
    assert kept() == counted()

    db.session.execute(  # a bulk change of state, as the scheduled jobs write
        update(Application).where(Application.id.in_(ours[:20])).values(status="completed")
    )
    db.session.execute(
        update(Application).where(Application.id.in_(ours[20:30])).values(status="submitted")
    )
    assert kept() == counted()

    db.session.execute(  # cases moved to another department, and one to none
        update(Application).where(Application.id.in_(ours[30:40])).values(department_id=other)
    )
    db.session.execute(
        update(Application).where(Application.id == ours[41]).values(department_id=None)
    )
    db.session.execute(  # a change that touches neither column changes nothing
        update(Application).where(Application.id.in_(theirs)).values(current_step=1)
    )
    assert kept() == counted()

    db.session.execute(delete(Application).where(Application.id.in_(ours[40:] + theirs[:5])))
    assert kept() == counted()

    removed = review.compact_queue_counts()
    assert kept() == counted()
    rows = db.session.execute(
        select(QueueCount.department_id, QueueCount.status, func.count()).group_by(
            QueueCount.department_id, QueueCount.status
        )
    ).all()
    assert all(n == 1 for _d, _s, n in rows), "one row per department and state once folded"
    if db.session.get_bind().dialect.name == "postgresql":
        assert removed > 0  # the changes above were +1/-1 rows
    assert review.compact_queue_counts() == 0  # nothing left to fold


def test_the_migration_counts_the_cases_already_there(database_factory):
    """Cases written before migration 0021 are counted when it runs (and its downgrade leaves
    no trigger behind: the cases written meanwhile are counted from scratch again)."""
    from flask_migrate import downgrade, upgrade

    from tests.conftest import MIGRATIONS

    app = database_factory("queue-counts-migration", seed=True)
    with app.app_context():
        version = db.session.scalar(select(ItemVersion).limit(1))
        db.session.expunge(version)
        db.session.remove()
        downgrade(directory=str(MIGRATIONS), revision="0020_background_tasks")
        add_rows(version, [*case_states.STAFF_OPEN_STATES, "draft"], version.department_id)
        db.session.commit()
        upgrade(directory=str(MIGRATIONS))
        assert kept() == counted() and counted()
        db.session.remove()


def test_the_scheduled_jobs_fold_the_count_rows(app_ctx):
    version = db.session.scalar(select(ItemVersion).limit(1))
    ids = add_rows(version, ["submitted"] * 3, version.department_id)
    db.session.execute(update(Application).where(Application.id.in_(ids)).values(status="accepted"))
    db.session.commit()
    jobs.run_jobs()
    rows = db.session.execute(
        select(QueueCount.department_id, QueueCount.status, func.count()).group_by(
            QueueCount.department_id, QueueCount.status
        )
    ).all()
    assert all(n == 1 for _d, _s, n in rows)
    assert kept() == counted()

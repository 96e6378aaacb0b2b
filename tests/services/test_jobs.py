"""`flask jobs run`: each reminder, flag and termination happens once, even when two runs
overlap on a fresh database (threads, on SQLite and on PostgreSQL)."""

import threading
from datetime import timedelta

from sqlalchemy import select, update

from portal.extensions import db
from portal.models import (
    Application,
    Event,
    Message,
    Notice,
    OutboxMessage,
    PostCheckTask,
    StaffReminder,
)
from portal.models.base import utcnow
from services import clock, jobs, workdays, workflow
from tests.helpers import count
from tests.workflow_cases import (
    RESIDENCE_PERMIT,
    RESIDENCE_REGISTRATION,
    UNEMPLOYMENT,
    submit_case,
    user,
)


class RecordingSender:
    """Collects what would go to the SMS gateway (a class-level list shared by the threads)."""

    sent: list[tuple] = []
    lock = threading.Lock()

    def send(self, channel, recipient, subject, body):
        with self.lock:
            RecordingSender.sent.append((channel, recipient, subject, body))


def build_due_work() -> dict[str, int]:
    """One case for each kind of scheduled work; returns their ids."""
    police, labour = user("reviewer01"), user("reviewer02")
    today = clock.local_today()
    ids = {}
    due_soon = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    workflow.perform(police, due_soon.id, "accept", due_soon.version)
    due_soon.due_date = workdays.add_working_days(today, 1)
    ids["due_soon"] = due_soon.id

    late = submit_case("13800000001", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    workflow.perform(police, late.id, "accept", late.version)
    late.due_date = today - timedelta(days=3)
    ids["overdue"] = late.id

    silent = submit_case("13800000003", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    silent.submitted_at = utcnow() - timedelta(days=20)
    ids["deemed"] = silent.id

    supplying = submit_case(
        "13800000002",
        UNEMPLOYMENT,
        {"reason": "dismissed"},
        options={"解除或终止劳动关系证明": "deferred"},
    )
    workflow.perform(
        labour, supplying.id, "accept_pending_materials", supplying.version, supply_deadline=today
    )
    ids["supply_soon"] = supplying.id

    missed = submit_case(
        "13800000003",
        UNEMPLOYMENT,
        {"reason": "dismissed"},
        options={"解除或终止劳动关系证明": "deferred"},
    )
    workflow.perform(
        labour, missed.id, "accept_pending_materials", missed.version, supply_deadline=today
    )
    ids["missed"] = missed.id

    committed = submit_case(
        "13800000001",
        RESIDENCE_REGISTRATION,
        {"housing": "rent"},
        options={"房屋租赁合同": "commitment"},
    )
    workflow.perform(police, committed.id, "accept_on_commitment", committed.version)
    ids["post_check"] = committed.id
    db.session.flush()
    # move the clocks: the 容缺 deadline has passed, the post-check is due soon
    db.session.execute(
        update(Application)
        .where(Application.id == missed.id)
        .values(supply_deadline=today - timedelta(days=1))
    )
    db.session.execute(
        update(PostCheckTask)
        .where(PostCheckTask.application_id == committed.id)
        .values(due_date=today + timedelta(days=1))
    )
    db.session.commit()
    return ids


def test_two_overlapping_runs_do_each_thing_once(database_factory):
    app = database_factory(
        "jobs", seed=True, MESSAGE_SENDER="tests.services.test_jobs:RecordingSender"
    )
    with app.app_context():
        ids = build_due_work()
        pending_before = count(OutboxMessage, OutboxMessage.status == "pending")
        db.session.remove()
    RecordingSender.sent = []
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def run():
        try:
            with app.app_context():
                barrier.wait(30)
                reports.append(jobs.run_jobs())
                db.session.remove()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    assert len(reports) == 2

    with app.app_context():
        assert (
            count(
                StaffReminder,
                StaffReminder.application_id == ids["due_soon"],
                StaffReminder.kind == "due_soon",
            )
            == 1
        )
        assert count(Event, Event.application_id == ids["overdue"], Event.action == "overdue") == 1
        assert (
            count(Event, Event.application_id == ids["deemed"], Event.action == "deemed_accepted")
            == 1
        )
        deemed = db.session.get(Application, ids["deemed"])
        assert deemed.deemed_accepted_at is not None and deemed.due_date is not None
        assert (
            count(Message, Message.application_id == ids["supply_soon"], Message.kind == "reminder")
            == 1
        )
        assert db.session.get(Application, ids["missed"]).status == "terminated"
        assert (
            count(Event, Event.application_id == ids["missed"], Event.action == "terminated") == 1
        )
        assert (
            count(Notice, Notice.application_id == ids["missed"], Notice.kind == "termination") == 1
        )
        assert (
            count(
                StaffReminder,
                StaffReminder.application_id == ids["post_check"],
                StaffReminder.kind == "post_check",
            )
            == 1
        )
        assert (
            db.session.get(Application, ids["supply_soon"]).status == "accepted_pending_materials"
        )
        # the outbox: every message went out exactly once
        sent_rows = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == "sent")
        ).all()
        assert count(OutboxMessage, OutboxMessage.status != "sent") == 0
        assert all(row.attempts == 1 for row in sent_rows)
        assert len(RecordingSender.sent) == len(sent_rows) >= pending_before
        assert sum(r.delivered for r in reports) == len(sent_rows)
        # a third run finds nothing left to do
        again = jobs.run_jobs()
        assert (
            again.deemed,
            again.overdue,
            again.staff_reminders,
            again.citizen_reminders,
            again.terminated,
            again.post_checks,
            again.delivered,
        ) == (0, 0, 0, 0, 0, 0, 0)
        db.session.remove()


def test_deemed_acceptance_starts_the_clock_on_arrival(app_ctx):
    case = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    arrived = clock.local_today() - timedelta(days=20)
    case.submitted_at = utcnow() - timedelta(days=20)
    db.session.flush()
    assert jobs.flag_deemed_acceptance(clock.local_today()) >= 1
    db.session.refresh(case)
    assert case.deemed_accepted_at is not None
    workflow.perform(user("reviewer01"), case.id, "accept", case.version)
    assert case.due_date == arrived + timedelta(days=7)  # 7 自然日 from arrival, not from today
    assert jobs.flag_deemed_acceptance(clock.local_today()) == 0


def test_a_correction_left_waiting_is_reminded_once(app_ctx):
    case = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    workflow.perform(
        user("reviewer01"),
        case.id,
        "request_correction",
        case.version,
        fields={"address": "请写到门牌号"},
    )
    request = workflow.open_correction(case)
    request.requested_at = utcnow() - timedelta(days=14)
    db.session.flush()
    before = count(Message, Message.application_id == case.id, Message.kind == "reminder")
    assert jobs.remind_citizens(clock.local_today()) >= 1
    assert jobs.remind_citizens(clock.local_today()) == 0
    assert (
        count(Message, Message.application_id == case.id, Message.kind == "reminder") == before + 1
    )


def test_the_cli_command_runs_the_jobs(database_factory):
    app = database_factory("jobscli", seed=True)
    result = app.test_cli_runner().invoke(args=["jobs", "run"])
    assert result.exit_code == 0, result.output
    assert "jobs done" in result.output

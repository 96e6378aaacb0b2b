"""Scheduled work (`flask --app portal jobs run`): reminders, flags, deadlines, the outbox.

Safe to run every minute from cron on several machines at once: each unit of work is
claimed before it is done, either by a conditional UPDATE (… WHERE flag IS NULL) or by
inserting a row whose unique key names the unit (JobClaim), or by the workflow's version
check; a second worker's claim changes nothing and it moves on. Each unit commits on its
own, so one failure never undoes the rest and locks are held briefly.

This module is a job runner, like services.messages.deliver_pending: it commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationMaterial,
    CorrectionRequest,
    JobClaim,
    PostCheckTask,
    SatisfiedBy,
)
from portal.models.base import utcnow
from services import (
    appointments,
    audit,
    capacity,
    case_states,
    clock,
    messages,
    page_scopes,
    review,
    sms_codes,
    statistics,
    storage,
    workdays,
    workflow,
)
from services.errors import DomainError

log = logging.getLogger(__name__)

DUE_SOON_WORKING_DAYS = 2
SUPPLY_SOON_WORKING_DAYS = 3
CORRECTION_NUDGE_WORKING_DAYS = 5
POST_CHECK_SOON_WORKING_DAYS = 3


@dataclass
class JobReport:
    deemed: int = 0
    overdue: int = 0
    staff_reminders: int = 0
    citizen_reminders: int = 0
    terminated: int = 0
    post_checks: int = 0
    no_shows: int = 0
    appointment_reminders: int = 0
    appointment_slots: int = 0
    phone_challenges_purged: int = 0
    delivered: int = 0
    statistics_days: int = 0
    files_removed: int = 0


def claim(job: str, key: str) -> bool:
    """Take a unit of work once: the insert fails for every later worker (unique job + key)."""
    try:
        with db.session.begin_nested():
            db.session.add(JobClaim(job=job, key=key[:100]))
        return True
    except IntegrityError:
        return False


def _ids(stmt) -> list[int]:
    ids = list(db.session.scalars(stmt))
    db.session.commit()
    return ids


def flag_deemed_acceptance(day: date) -> int:
    """视为受理: not answered within 5 working days of arrival → counts as accepted on arrival."""
    done = 0
    # 5 working days are at least 5 calendar days: a cheap filter before the exact count
    arrived_before = datetime.combine(
        day - timedelta(days=workflow.DEEMED_ACCEPTANCE_WORKING_DAYS), time.min, tzinfo=UTC
    )
    for app_id in _ids(
        select(Application.id).where(
            Application.status == "submitted",
            Application.deemed_accepted_at.is_(None),
            Application.department_id.is_not(None),
            Application.submitted_at < arrived_before,
        )
    ):
        app = db.session.get(Application, app_id)
        arrived = workflow.received_on(app)
        if workdays.add_working_days(arrived, workflow.DEEMED_ACCEPTANCE_WORKING_DAYS) >= day:
            db.session.commit()
            continue
        due = workflow.promised_due(app, arrived)
        claimed = db.session.execute(
            update(Application)
            .where(
                Application.id == app_id,
                Application.status == "submitted",
                Application.deemed_accepted_at.is_(None),
            )
            .values(deemed_accepted_at=utcnow(), due_date=due)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed:
            audit.record_event(
                "deemed_accepted",
                actor=None,
                application_id=app_id,
                details={"arrived": arrived.isoformat(), "due_date": due.isoformat()},
            )
            workflow.remind_department(
                app,
                "deemed",
                str(
                    _l(
                        "办件 %(number)s 超过 5 个工作日未作受理答复，视为已受理，承诺办结日 %(due)s",
                        number=app.number,
                        due=due.isoformat(),
                    )
                ),
            )
            done += 1
        db.session.commit()
    return done


def flag_overdue(day: date) -> int:
    done = 0
    for app_id in _ids(
        select(Application.id).where(
            Application.status.in_(case_states.CLOCK_STATES + ("submitted",)),
            Application.due_date < day,
            Application.overdue_at.is_(None),
        )
    ):
        claimed = db.session.execute(
            update(Application)
            .where(Application.id == app_id, Application.overdue_at.is_(None))
            .values(overdue_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed:
            app = db.session.get(Application, app_id)
            audit.record_event(
                "overdue",
                actor=None,
                application_id=app_id,
                details={"due_date": app.due_date.isoformat()},
            )
            workflow.remind_department(
                app,
                "overdue",
                str(
                    _l(
                        "办件 %(number)s 已超过承诺办结日 %(due)s",
                        number=app.number,
                        due=app.due_date.isoformat(),
                    )
                ),
            )
            done += 1
        db.session.commit()
    return done


def remind_due_soon(day: date) -> int:
    """Reviewers: cases due within 2 working days (once per case and due date)."""
    horizon = workdays.add_working_days(day, DUE_SOON_WORKING_DAYS)
    done = 0
    for app_id in _ids(
        select(Application.id).where(
            Application.status.in_(case_states.CLOCK_STATES),
            Application.due_date.between(day, horizon),
        )
    ):
        app = db.session.get(Application, app_id)
        if claim("due_soon", f"{app_id}:{app.due_date.isoformat()}"):
            left = workdays.working_days_between(day, app.due_date)
            workflow.remind_department(
                app,
                "due_soon",
                str(
                    _l(
                        "办件 %(number)s 将于 %(due)s 到期（剩余 %(n)d 个工作日）",
                        number=app.number,
                        due=app.due_date.isoformat(),
                        n=left,
                    )
                ),
            )
            done += 1
        db.session.commit()
    return done


def remind_citizens(day: date) -> int:
    """Citizens: a 容缺 deadline coming up, a correction still outstanding (once each)."""
    done = 0
    horizon = workdays.add_working_days(day, SUPPLY_SOON_WORKING_DAYS)
    for app_id in _ids(
        select(Application.id).where(
            Application.status == "accepted_pending_materials",
            Application.supply_deadline.between(day, horizon),
        )
    ):
        app = db.session.get(Application, app_id)
        missing = db.session.scalars(
            select(ApplicationMaterial).where(
                ApplicationMaterial.application_id == app_id,
                ApplicationMaterial.satisfied_by == SatisfiedBy.deferred,
            )
        ).all()
        if missing and claim("supply_reminder", f"{app_id}:{app.supply_deadline.isoformat()}"):
            what = str(
                _l(
                    "请于 %(day)s 前补交容缺材料（%(names)s），逾期将终止办理",
                    day=app.supply_deadline.isoformat(),
                    names="、".join(m.requirement.material_type.name for m in missing),
                )
            )
            messages.notify(app.applicant, "reminder", application=app, what=what)
            done += 1
        db.session.commit()
    nudge_before = utcnow() - timedelta(days=1)
    for request_id in _ids(
        select(CorrectionRequest.id)
        .join(Application)
        .where(
            Application.status == "correction_required",
            CorrectionRequest.resubmitted_at.is_(None),
            CorrectionRequest.requested_at < nudge_before,
        )
    ):
        request = db.session.get(CorrectionRequest, request_id)
        waited = workdays.working_days_between(clock.local_date(request.requested_at), day)
        if waited >= CORRECTION_NUDGE_WORKING_DAYS and claim(
            "correction_reminder", str(request_id)
        ):
            app = db.session.get(Application, request.application_id)
            what = str(_l("还在等待您按补正材料通知书补正，补正后我们会尽快受理"))
            messages.notify(app.applicant, "reminder", application=app, what=what)
            done += 1
        db.session.commit()
    return done


def terminate_missed_deferrals(day: date) -> int:
    """容缺: the deadline passed without the missing materials → terminated, with a notice."""
    done = 0
    for app_id in _ids(
        select(Application.id).where(
            Application.status == "accepted_pending_materials", Application.supply_deadline < day
        )
    ):
        app = db.session.get(Application, app_id)
        try:
            workflow.perform(None, app_id, "terminate_deferral", app.version)
        except DomainError:  # another worker got there first, or the materials arrived
            db.session.rollback()
            continue
        db.session.commit()
        done += 1
    return done


def remind_post_checks(day: date) -> int:
    """告知承诺 post-checks due within 3 working days (or overdue) → a reminder, once."""
    horizon = workdays.add_working_days(day, POST_CHECK_SOON_WORKING_DAYS)
    done = 0
    for task_id in _ids(
        select(PostCheckTask.id).where(
            PostCheckTask.status == "open",
            PostCheckTask.reminded_at.is_(None),
            PostCheckTask.due_date <= horizon,
        )
    ):
        claimed = db.session.execute(
            update(PostCheckTask)
            .where(PostCheckTask.id == task_id, PostCheckTask.reminded_at.is_(None))
            .values(reminded_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed:
            task = db.session.get(PostCheckTask, task_id)
            app = db.session.get(Application, task.application_id)
            workflow.remind_department(
                app,
                "post_check",
                str(
                    _l(
                        "告知承诺办件 %(number)s 的核查应于 %(due)s 前完成",
                        number=app.number,
                        due=task.due_date.isoformat(),
                    )
                ),
            )
            done += 1
        db.session.commit()
    return done


def mark_missed_appointments(now: datetime) -> int:
    """预约 whose slot ended without the citizen being received → no_show (one conditional
    UPDATE on status = booked, so a rerun or a second worker changes nothing)."""
    done = appointments.flag_no_shows(now)
    db.session.commit()
    return done


def remind_appointments(day: date) -> int:
    """The day before a booked visit (the next working day), a reminder to the citizen, once."""
    done = 0
    ids = appointments.due_reminders(workdays.add_working_days(day, 1))
    db.session.commit()
    for appointment_id in ids:
        if claim("appointment_reminder", str(appointment_id)):
            appointments.send_reminder(appointment_id)
            done += 1
        db.session.commit()
    return done


def roll_appointment_slots(day: date) -> int:
    """Keep APPOINTMENT_WEEKS_AHEAD weeks of slots from the halls' weekly templates: each
    (category, day) is generated once, by whichever worker claims it (services/capacity.py)."""
    done = 0
    todo = capacity.days_to_roll(day)
    db.session.commit()
    for category_id, days in todo.items():
        done += capacity.roll_category(category_id, days).created
        db.session.commit()
    return done


def run_jobs(day: date | None = None) -> JobReport:
    """Everything scheduled, in order; each step is idempotent."""
    day = day or clock.local_today()
    report = JobReport()
    with force_locale("zh_CN"):  # what the jobs write is read in Chinese
        report.deemed = flag_deemed_acceptance(day)
        report.overdue = flag_overdue(day)
        report.staff_reminders = remind_due_soon(day)
        report.citizen_reminders = remind_citizens(day)
        report.terminated = terminate_missed_deferrals(day)
        report.post_checks = remind_post_checks(day)
        # slots are in local time; a day other than today is taken from its start
        now = (
            appointments.local_now()
            if day == clock.local_today()
            else datetime.combine(day, time.min)
        )
        report.no_shows = mark_missed_appointments(now)
        report.appointment_reminders = remind_appointments(day)
        report.appointment_slots = roll_appointment_slots(day)
    report.phone_challenges_purged = sms_codes.purge_old_challenges()
    review.compact_queue_counts()  # the queue's +1/-1 count rows, one per state again
    page_scopes.compact_page_generations()  # the kept pages' appended rows, one a scope again
    db.session.commit()
    # the statistics' daily summaries up to yesterday (services/statistics.py)
    report.statistics_days = statistics.summarise(db.session, day)
    db.session.commit()
    statistics.item_figures(db.session, None, day)  # the day's public figures, once
    db.session.commit()
    report.delivered = messages.deliver_pending(limit=1000)
    # what crashes left in the storage backend, once an hour on whichever machine claims it
    if claim("files_cleanup", clock.utc_now().strftime("%Y-%m-%dT%H")):
        db.session.commit()
        cleaned = storage.cleanup()
        report.files_removed = cleaned.stray + cleaned.orphans + cleaned.derived
    log.info("jobs run: %s", report)
    return report

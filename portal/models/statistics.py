"""Daily summaries of the statistics (services/statistics.py), kept by `flask jobs run`.

Each row counts what happened on one local day (PORTAL_TZ) for one combination of the
dashboard's filters (department, item, channel, hall): the dashboard for a year sums a few
hundred thousand small rows instead of reading a million cases. The rows hold nothing that
is not in the cases, ratings and tickets; the job rebuilds a day whenever any of those that
count on it change, and a test checks that they equal a recomputation from the cases.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.applications import QUEUE_OPEN_PREDICATE, Application, Rating
from portal.models.base import UTCDateTime
from portal.models.counter import Ticket
from portal.models.workflow import CorrectionException, CorrectionRequest, PostCheckTask

# The statistics count cases by these instants (a day's summary, today's live figures, the
# changes since the last run): indexes on the cases' and ratings' tables, declared here
# beside their one user so that the tables' own modules stay about the cases.
STATISTICS_INDEXES = (
    Index("ix_applications_submitted_at", Application.submitted_at),
    Index("ix_applications_accepted_at", Application.accepted_at),
    Index("ix_applications_decided_at", Application.decided_at),
    Index("ix_applications_completed_at", Application.completed_at),
    Index("ix_applications_updated_at", Application.updated_at),
    Index("ix_ratings_created_at", Rating.created_at),
    Index("ix_correction_requests_requested_at", CorrectionRequest.requested_at),
    Index("ix_correction_exceptions_created_at", CorrectionException.created_at),
    Index("ix_post_check_tasks_checked_at", PostCheckTask.checked_at),
    Index("ix_tickets_day", Ticket.day),
    # open and overdue now, over every department
    Index("ix_applications_status_due", Application.status, Application.due_date),
    # open and overdue now with every filter but the hall's, counted on the open cases alone
    # without reading a case (services/statistics.py names the predicate in its queries)
    Index(
        "ix_applications_open_now",
        Application.status,
        Application.due_date,
        Application.item_version_id,
        Application.department_id,
        Application.channel,
        Application.created_by_id,
        sqlite_where=text(QUEUE_OPEN_PREDICATE),
        postgresql_where=text(QUEUE_OPEN_PREDICATE),
    ),
    # 减材料 for returning applicants: had this applicant completed a case before?
    Index(
        "ix_applications_applicant_completed",
        Application.applicant_id,
        Application.status,
        Application.completed_at,
    ),
)

# the counters of StatDaily, in the order the summary query fills them
DAILY_COUNTERS = (
    "received",
    "accepted",
    "not_accepted",
    "completed",
    "denied",
    "withdrawn",
    "visits_0",
    "visits_1",
    "visits_2",
    "visits_3",
    "over_promise",
    "decided",
    "on_time",
    "instant",
    "auto",
    "corrections",
    "corrected_cases",
    "exceptions",
    "deferred",
    "commitment",
    "checks_passed",
    "checks_false",
    "materials",
    "by_shared",
    "by_elicence",
    "by_library",
    "by_commitment",
    "ret_materials",
    "ret_shared",
    "ret_elicence",
    "ret_library",
    "ret_commitment",
    "score_1",
    "score_2",
    "score_3",
    "score_4",
    "score_5",
)


class _Key:
    """The dashboard's filters, as each summary row carries them."""

    department_id: Mapped[int | None] = mapped_column()
    item_id: Mapped[int | None] = mapped_column()
    channel: Mapped[str] = mapped_column(String(16))
    hall_id: Mapped[int | None] = mapped_column()


class _Counts:
    """The counters (DAILY_COUNTERS) of a day's or a month's row."""

    received: Mapped[int] = mapped_column(default=0)
    accepted: Mapped[int] = mapped_column(default=0)
    not_accepted: Mapped[int] = mapped_column(default=0)
    completed: Mapped[int] = mapped_column(default=0)
    denied: Mapped[int] = mapped_column(default=0)
    withdrawn: Mapped[int] = mapped_column(default=0)
    visits_0: Mapped[int] = mapped_column(default=0)
    visits_1: Mapped[int] = mapped_column(default=0)
    visits_2: Mapped[int] = mapped_column(default=0)
    visits_3: Mapped[int] = mapped_column(default=0)  # 3 or more
    over_promise: Mapped[int] = mapped_column(default=0)
    decided: Mapped[int] = mapped_column(default=0)
    on_time: Mapped[int] = mapped_column(default=0)
    instant: Mapped[int] = mapped_column(default=0)
    auto: Mapped[int] = mapped_column(default=0)
    corrections: Mapped[int] = mapped_column(default=0)
    corrected_cases: Mapped[int] = mapped_column(default=0)
    exceptions: Mapped[int] = mapped_column(default=0)
    deferred: Mapped[int] = mapped_column(default=0)
    commitment: Mapped[int] = mapped_column(default=0)
    checks_passed: Mapped[int] = mapped_column(default=0)
    checks_false: Mapped[int] = mapped_column(default=0)
    materials: Mapped[int] = mapped_column(default=0)
    by_shared: Mapped[int] = mapped_column(default=0)
    by_elicence: Mapped[int] = mapped_column(default=0)
    by_library: Mapped[int] = mapped_column(default=0)
    by_commitment: Mapped[int] = mapped_column(default=0)
    ret_materials: Mapped[int] = mapped_column(default=0)
    ret_shared: Mapped[int] = mapped_column(default=0)
    ret_elicence: Mapped[int] = mapped_column(default=0)
    ret_library: Mapped[int] = mapped_column(default=0)
    ret_commitment: Mapped[int] = mapped_column(default=0)
    score_1: Mapped[int] = mapped_column(default=0)
    score_2: Mapped[int] = mapped_column(default=0)
    score_3: Mapped[int] = mapped_column(default=0)
    score_4: Mapped[int] = mapped_column(default=0)
    score_5: Mapped[int] = mapped_column(default=0)


class StatDaily(_Key, _Counts, db.Model):
    """One local day × department × item × channel × hall: the counts the dashboard sums.

    ``hall_id`` is the hall of the clerk who took the case in (None online and at kiosks)."""

    __tablename__ = "stat_daily"
    __table_args__ = (
        Index("ix_stat_daily_day", "day"),
        Index("ix_stat_daily_item_day", "item_id", "day"),
        Index("ix_stat_daily_department_day", "department_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)


class StatMonthly(_Key, _Counts, db.Model):
    """The sum of a calendar month's StatDaily rows (``month``: its first day), kept with
    them: a year's dashboard reads eleven months' rows and the days at its edges instead of
    every day's."""

    __tablename__ = "stat_monthly"
    __table_args__ = (
        Index("ix_stat_monthly_month", "month"),
        Index("ix_stat_monthly_item_month", "item_id", "month"),
        Index("ix_stat_monthly_department_month", "department_id", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column(Date)


class StatDuration(_Key, db.Model):
    """How many cases decided on ``day`` took ``working_days`` from acceptance to decision: a
    histogram, so that medians and 90th percentiles come from summaries too."""

    __tablename__ = "stat_durations"
    __table_args__ = (
        Index("ix_stat_durations_day", "day"),
        Index("ix_stat_durations_item_day", "item_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    working_days: Mapped[int] = mapped_column()
    cases: Mapped[int] = mapped_column(default=0)


class StatDurationMonthly(_Key, db.Model):
    """The sum of a calendar month's StatDuration rows (``month``: its first day)."""

    __tablename__ = "stat_durations_monthly"
    __table_args__ = (
        Index("ix_stat_durations_monthly_month", "month"),
        Index("ix_stat_durations_monthly_item_month", "item_id", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column(Date)
    working_days: Mapped[int] = mapped_column()
    cases: Mapped[int] = mapped_column(default=0)


class _QueueKey:
    hall_id: Mapped[int] = mapped_column()
    category_id: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(16))
    minutes: Mapped[int] = mapped_column(default=0)
    tickets: Mapped[int] = mapped_column(default=0)


class StatQueue(_QueueKey, db.Model):
    """Queue tickets of one day, hall and category; ``kind`` says what ``minutes`` measures:
    ``wait`` (issued → called) and ``service`` (called → finished) are histograms by whole
    minute; ``issued``, ``served``, ``skipped`` and ``no_show`` (missed appointments) are plain
    counts with minutes 0."""

    __tablename__ = "stat_queue"
    __table_args__ = (
        Index("ix_stat_queue_day", "day", "hall_id"),
        # the days each hall issued tickets (tickets per hour)
        Index("ix_stat_queue_kind_day", "kind", "day", "hall_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)


class StatQueueMonthly(_QueueKey, db.Model):
    """The sum of a calendar month's StatQueue rows (``month``: its first day)."""

    __tablename__ = "stat_queue_monthly"
    __table_args__ = (Index("ix_stat_queue_monthly_month", "month", "hall_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column(Date)


class StatStaleDay(db.Model):
    """A day whose summaries still count a case where it no longer counts: an instant of the
    case (submitted, accepted, decided, completed) moved or was cleared, so its old day is
    not among the case's days any more. Written in the transaction that moves the instant
    (services/statistics: a flush hook); the next `flask jobs run` summarises the day again
    and removes the row. The same day may be noted more than once."""

    __tablename__ = "stat_stale_days"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)


class StatState(db.Model):
    """Where the summaries stand: every day up to ``summarised_until`` is summarised, from
    the changes seen up to ``checked_at`` (the next run re-reads changes from a little before)."""

    __tablename__ = "stat_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    summarised_until: Mapped[date | None] = mapped_column(Date)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

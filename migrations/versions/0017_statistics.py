"""daily statistics summaries

The summaries of services/statistics.py (StatDaily, StatDuration, StatQueue, StatState) and
indexes on the instants the statistics count by (submitted, accepted, decided, completed,
changed; ratings given), so that a day's summary and today's live figures read a range.

Revision ID: 0017_statistics
Revises: 0016_question_rules
Create Date: 2026-12-02 05:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0017_statistics"
down_revision = "0016_question_rules"
branch_labels = None
depends_on = None

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

OTHER_INDEXES = (
    ("correction_requests", "ix_correction_requests_requested_at", ["requested_at"]),
    ("correction_exceptions", "ix_correction_exceptions_created_at", ["created_at"]),
    ("post_check_tasks", "ix_post_check_tasks_checked_at", ["checked_at"]),
    ("tickets", "ix_tickets_day", ["day"]),
    ("applications", "ix_applications_status_due", ["status", "due_date"]),
    (
        "applications",
        "ix_applications_applicant_completed",
        ["applicant_id", "status", "completed_at"],
    ),
)

CASE_INSTANTS = ("submitted_at", "accepted_at", "decided_at", "completed_at", "updated_at")


def _key_columns():
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=True),
    ]


def upgrade():
    op.create_table(
        "stat_daily",
        *_key_columns(),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in DAILY_COUNTERS],
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stat_daily")),
    )
    with op.batch_alter_table("stat_daily", schema=None) as batch_op:
        batch_op.create_index("ix_stat_daily_day", ["day"], unique=False)
        batch_op.create_index("ix_stat_daily_item_day", ["item_id", "day"], unique=False)
        batch_op.create_index(
            "ix_stat_daily_department_day", ["department_id", "day"], unique=False
        )
    op.create_table(
        "stat_durations",
        *_key_columns(),
        sa.Column("working_days", sa.Integer(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stat_durations")),
    )
    with op.batch_alter_table("stat_durations", schema=None) as batch_op:
        batch_op.create_index("ix_stat_durations_day", ["day"], unique=False)
        batch_op.create_index("ix_stat_durations_item_day", ["item_id", "day"], unique=False)
    op.create_table(
        "stat_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stat_queue")),
    )
    with op.batch_alter_table("stat_queue", schema=None) as batch_op:
        batch_op.create_index("ix_stat_queue_day", ["day", "hall_id"], unique=False)
    state = op.create_table(
        "stat_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("summarised_until", sa.Date(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stat_state")),
    )
    # the one row a summary run locks (SELECT … FOR UPDATE), so two runs take turns
    op.bulk_insert(state, [{"id": 1, "summarised_until": None, "checked_at": None}])
    with op.batch_alter_table("applications", schema=None) as batch_op:
        for column in CASE_INSTANTS:
            batch_op.create_index(f"ix_applications_{column}", [column], unique=False)
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index("ix_ratings_created_at", ["created_at"], unique=False)
    for table, name, columns in OTHER_INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)


def downgrade():
    for table, name, _columns in reversed(OTHER_INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_index("ix_ratings_created_at")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        for column in CASE_INSTANTS:
            batch_op.drop_index(f"ix_applications_{column}")
    op.drop_table("stat_state")
    op.drop_table("stat_queue")
    op.drop_table("stat_durations")
    op.drop_table("stat_daily")

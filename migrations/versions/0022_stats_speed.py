"""statistics speed: the days to summarise again, and indexes for the dashboard at a million cases

``stat_stale_days``: a day whose summaries still count a case whose instant moved away from it
(services/statistics.py notes it when the instant moves; `flask jobs run` summarises the day
again), so that a run redoes only the days changes count on instead of every day since the
earliest changed case was submitted.

``stat_monthly``, ``stat_durations_monthly``, ``stat_queue_monthly``: the sums of each calendar
month's daily summary rows, kept with them (filled here from the daily rows), so that a
year's dashboard reads eleven months and the days at its edges instead of every day;
``ix_stat_queue_kind_day`` finds the days a hall issued tickets.

``ix_applications_open_now``: the open cases alone (the reviewer queue's partial-index
predicate) with status, due date, item version, department, channel and clerk, so that open
and overdue now, also per item and with the dashboard's filters, are counted in the index.

Revision ID: 0022_stats_speed
Revises: 0021_queue_counters
Create Date: 2026-12-02 08:20:00

"""

import sqlalchemy as sa
from alembic import op

# services.case_states.STAFF_OPEN_STATES at the time of this revision (as in the model)
OPEN_PREDICATE = (
    "status IN ('submitted', 'correction_required', 'accepted', 'accepted_pending_materials', "
    "'accepted_on_commitment', 'in_review', 'suspended', 'approved', 'certifying', "
    "'awaiting_pickup', 'awaiting_post', 'mailed')"
)
OPEN_NOW_COLUMNS = [
    "status",
    "due_date",
    "item_version_id",
    "department_id",
    "channel",
    "created_by_id",
]

# StatDaily's counters at the time of this revision (portal/models/statistics.py)
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
CASE_KEY = ("department_id", "item_id", "channel", "hall_id")
QUEUE_KEY = ("hall_id", "category_id", "kind", "minutes")

revision = "0022_stats_speed"
down_revision = "0021_queue_counters"
branch_labels = None
depends_on = None


def _case_key_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=True),
    ]


def _roll_up(daily: str, monthly: str, key: tuple[str, ...], sums: tuple[str, ...], month: str):
    """Fill ``monthly`` with the sums of ``daily`` per calendar month."""
    names = ", ".join(key)
    op.execute(
        f"INSERT INTO {monthly} (month, {names}, {', '.join(sums)}) "  # noqa: S608 (constants)
        f"SELECT {month}, {names}, {', '.join(f'SUM({c})' for c in sums)} FROM {daily} "
        f"GROUP BY {month}, {names}"
    )


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "stat_monthly",
        *_case_key_columns(),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in DAILY_COUNTERS],
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stat_monthly")),
    )
    with op.batch_alter_table("stat_monthly", schema=None) as batch_op:
        batch_op.create_index("ix_stat_monthly_month", ["month"], unique=False)
        batch_op.create_index("ix_stat_monthly_item_month", ["item_id", "month"], unique=False)
        batch_op.create_index(
            "ix_stat_monthly_department_month", ["department_id", "month"], unique=False
        )
    op.create_table(
        "stat_durations_monthly",
        *_case_key_columns(),
        sa.Column("working_days", sa.Integer(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stat_durations_monthly")),
    )
    with op.batch_alter_table("stat_durations_monthly", schema=None) as batch_op:
        batch_op.create_index("ix_stat_durations_monthly_month", ["month"], unique=False)
        batch_op.create_index(
            "ix_stat_durations_monthly_item_month", ["item_id", "month"], unique=False
        )
    op.create_table(
        "stat_queue_monthly",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stat_queue_monthly")),
    )
    with op.batch_alter_table("stat_queue_monthly", schema=None) as batch_op:
        batch_op.create_index("ix_stat_queue_monthly_month", ["month", "hall_id"], unique=False)
    with op.batch_alter_table("stat_queue", schema=None) as batch_op:
        batch_op.create_index("ix_stat_queue_kind_day", ["kind", "day", "hall_id"], unique=False)
    month = "CAST(date_trunc('month', day) AS date)" if postgres else "date(day, 'start of month')"
    _roll_up("stat_daily", "stat_monthly", CASE_KEY, DAILY_COUNTERS, month)
    _roll_up(
        "stat_durations", "stat_durations_monthly", (*CASE_KEY, "working_days"), ("cases",), month
    )
    _roll_up("stat_queue", "stat_queue_monthly", QUEUE_KEY, ("tickets",), month)
    where = {f"{'postgresql' if postgres else 'sqlite'}_where": sa.text(OPEN_PREDICATE)}
    op.create_index("ix_applications_open_now", "applications", OPEN_NOW_COLUMNS, **where)
    op.create_table(
        "stat_stale_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stat_stale_days")),
    )


def downgrade():
    op.drop_index("ix_applications_open_now", table_name="applications")
    with op.batch_alter_table("stat_queue", schema=None) as batch_op:
        batch_op.drop_index("ix_stat_queue_kind_day")
    op.drop_table("stat_queue_monthly")
    op.drop_table("stat_durations_monthly")
    op.drop_table("stat_monthly")
    op.drop_table("stat_stale_days")

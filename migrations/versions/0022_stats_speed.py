"""statistics speed: the days to summarise again, and indexes for the dashboard at a million cases

``stat_stale_days``: a day whose summaries still count a case whose instant moved away from it
(services/statistics.py notes it when the instant moves; `flask jobs run` summarises the day
again), so that a run redoes only the days changes count on instead of every day since the
earliest changed case was submitted.

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

revision = "0022_stats_speed"
down_revision = "0021_queue_counters"
branch_labels = None
depends_on = None


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
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
    op.drop_table("stat_stale_days")

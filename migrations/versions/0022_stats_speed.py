"""statistics speed: the days to summarise again, and indexes for the dashboard at a million cases

``stat_stale_days``: a day whose summaries still count a case whose instant moved away from it
(services/statistics.py notes it when the instant moves; `flask jobs run` summarises the day
again), so that a run redoes only the days changes count on instead of every day since the
earliest changed case was submitted.

Revision ID: 0022_stats_speed
Revises: 0021_queue_counters
Create Date: 2026-12-02 08:20:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0022_stats_speed"
down_revision = "0021_queue_counters"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "stat_stale_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stat_stale_days")),
    )


def downgrade():
    op.drop_table("stat_stale_days")

"""statistics speed (reserved; indexes or maintained counts for the dashboard at a million cases)

Revision ID: 0022_stats_speed
Revises: 0021_queue_counters
Create Date: 2026-12-02 08:20:00

"""

revision = "0022_stats_speed"
down_revision = "0021_queue_counters"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

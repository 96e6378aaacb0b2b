"""reviewer queue and counter speed (reserved; filled by the perf-staff work if a maintained counter or index is needed)

Revision ID: 0021_queue_counters
Revises: 0020_background_tasks
Create Date: 2026-12-02 08:20:00

"""

revision = "0021_queue_counters"
down_revision = "0020_background_tasks"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

"""reviewer queue: one state's open cases in the queue's order

Revision ID: 0023_queue_state_order
Revises: 0022_stats_speed
Create Date: 2026-12-02 12:20:00

The queue filtered to one state (?status=, the tabs above it) sorts by 承诺办结日 with the
cases that have none first, then id. ix_applications_department_status_due has neither that
NULL order on PostgreSQL nor the id, so PostgreSQL walked the department's whole open queue
(ix_applications_queue_due) and skipped the other states' cases: 18,373 rows skipped and
25 ms for the first page of 在审查 at a million cases, 0.9 ms through this index.
"""

import sqlalchemy as sa
from alembic import op

revision = "0023_queue_state_order"
down_revision = "0022_stats_speed"
branch_labels = None
depends_on = None

# services.case_states.STAFF_OPEN_STATES at the time of this revision (as in the model)
OPEN_PREDICATE = (
    "status IN ('submitted', 'correction_required', 'accepted', 'accepted_pending_materials', "
    "'accepted_on_commitment', 'in_review', 'suspended', 'approved', 'certifying', "
    "'awaiting_pickup', 'awaiting_post', 'mailed')"
)


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    where = {f"{'postgresql' if postgres else 'sqlite'}_where": sa.text(OPEN_PREDICATE)}
    op.create_index(
        "ix_applications_queue_state_due",
        "applications",
        [
            "department_id",
            "status",
            # PostgreSQL sorts NULL last by default; SQLite only first
            sa.text("due_date NULLS FIRST") if postgres else "due_date",
            "id",
        ],
        **where,
    )


def downgrade():
    op.drop_index("ix_applications_queue_state_due", table_name="applications")

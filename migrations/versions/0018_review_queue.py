"""reviewer queue keyset indexes and counters

Revision ID: 0018_review_queue
Revises: 0017_statistics
Create Date: 2026-12-02 05:30:00

The reviewer queue reads one page at a time in index order (services/review.py): partial
indexes over the open cases of a department, due first and newest first, plus one per state
for a state's newest cases. The citizen's own cases (我的办件, the counter's workstation) are
found by applicant or agent among the top-level cases. The per-state counts need no new index:
ix_applications_department_status_due answers them alone.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_review_queue"
down_revision = "0017_statistics"
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
        "ix_applications_queue_due",
        "applications",
        # PostgreSQL sorts NULL last by default; the queue puts the cases with no 承诺办结日
        # (waiting for acceptance) first, as SQLite does
        ["department_id", sa.text("due_date NULLS FIRST") if postgres else "due_date", "id"],
        **where,
    )
    op.create_index("ix_applications_queue_new", "applications", ["department_id", "id"], **where)
    op.create_index(
        "ix_applications_department_status_id", "applications", ["department_id", "status", "id"]
    )
    op.create_index(
        "ix_applications_applicant_parent", "applications", ["applicant_id", "parent_id"]
    )
    op.create_index("ix_applications_agent_parent", "applications", ["agent_id", "parent_id"])


def downgrade():
    for name in (
        "ix_applications_agent_parent",
        "ix_applications_applicant_parent",
        "ix_applications_department_status_id",
        "ix_applications_queue_new",
        "ix_applications_queue_due",
    ):
        op.drop_index(name, table_name="applications")

"""outbox: when a row was claimed for sending

``outbox.claimed_at``: set when a delivery claims a row (status ``sending``). A process that
died between the claim and recording the outcome left its rows ``sending`` for ever, and a
delivery looked only at ``pending`` rows: those messages were never sent. `flask jobs run`
now returns rows claimed longer ago than services.messages.CLAIM_TIMEOUT to ``pending``.
Rows left ``sending`` before this revision have no claim time and are returned on the first
run.

Revision ID: 0024_outbox_claimed_at
Revises: 0023_queue_state_order
Create Date: 2026-12-02 12:45:00

"""

import sqlalchemy as sa
from alembic import op

from portal.models.base import UTCDateTime

revision = "0024_outbox_claimed_at"
down_revision = "0023_queue_state_order"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_at", UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("claimed_at")

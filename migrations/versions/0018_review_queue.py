"""reviewer queue keyset indexes and counters

Revision ID: 0018_review_queue
Revises: 0017_statistics
Create Date: 2026-12-02 05:30:00

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0018_review_queue"
down_revision = "0017_statistics"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

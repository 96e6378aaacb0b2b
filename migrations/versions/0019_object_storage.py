"""object storage bookkeeping

Revision ID: 0019_object_storage
Revises: 0018_review_queue
Create Date: 2026-12-02 05:30:00

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0019_object_storage"
down_revision = "0018_review_queue"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

"""background task state

Revision ID: 0020_background_tasks
Revises: 0019_object_storage
Create Date: 2026-12-02 05:30:00

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0020_background_tasks"
down_revision = "0019_object_storage"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

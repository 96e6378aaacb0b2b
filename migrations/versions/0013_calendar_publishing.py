"""working-day calendar import and four-eyes publishing

Revision ID: 0013_calendar_publishing
Revises: 0012_hall_capacity
Create Date: 2026-12-02 02:30:00

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0013_calendar_publishing"
down_revision = "0012_hall_capacity"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

"""SMS codes for phone confirmation and password reset

Revision ID: 0014_phone_codes
Revises: 0013_calendar_publishing
Create Date: 2026-12-02 02:30:00

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0014_phone_codes"
down_revision = "0013_calendar_publishing"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

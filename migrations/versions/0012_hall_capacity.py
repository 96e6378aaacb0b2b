"""halls, windows, categories and weekly appointment templates

Revision ID: 0012_hall_capacity
Revises: 0011_staff_accounts
Create Date: 2026-12-02 02:30:00

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0012_hall_capacity"
down_revision = "0011_staff_accounts"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

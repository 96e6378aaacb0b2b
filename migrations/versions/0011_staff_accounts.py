"""staff accounts: several roles, two-factor login, must-change password

Revision ID: 0011_staff_accounts
Revises: 0010_data_use_role
Create Date: 2026-12-02 02:30:00

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0011_staff_accounts"
down_revision = "0010_data_use_role"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

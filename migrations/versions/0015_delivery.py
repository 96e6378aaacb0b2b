"""cases follow declared steps to delivery; licence validity and revocation

Revision ID: 0015_delivery
Revises: 0014_phone_codes
Create Date: 2026-12-02 02:30:00

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0015_delivery"
down_revision = "0014_phone_codes"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

"""per-question declared validation rules

Revision ID: 0016_question_rules
Revises: 0015_delivery
Create Date: 2026-12-02 02:30:00

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0016_question_rules"
down_revision = "0015_delivery"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

"""daily statistics summaries

Revision ID: 0017_statistics
Revises: 0016_question_rules
Create Date: 2026-12-02 05:30:00

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0017_statistics"
down_revision = "0016_question_rules"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

"""data-use log: the actor's role at the time and why the data was used

Revision ID: 0010_data_use_role
Revises: 0009_verify_codes
Create Date: 2026-12-02 00:25:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0010_data_use_role"
down_revision = "0009_verify_codes"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("data_use_logs") as batch_op:
        batch_op.add_column(
            sa.Column("actor_role", sa.String(length=16), nullable=False, server_default="system")
        )
        batch_op.add_column(
            sa.Column("reason", sa.String(length=200), nullable=False, server_default="")
        )


def downgrade():
    with op.batch_alter_table("data_use_logs") as batch_op:
        batch_op.drop_column("reason")
        batch_op.drop_column("actor_role")

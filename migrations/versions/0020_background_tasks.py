"""background task state: notices rendered by a task, request ids on audit events

A notice row is now written when the notice is issued and its PDF attached once, by the
rendering task (services/notices.py): until then ``storage_key`` and ``sha256`` are empty and
``render_context`` holds what the notice is rendered with. Audit events carry the id of the
request (or task) that recorded them.

Revision ID: 0020_background_tasks
Revises: 0019_object_storage
Create Date: 2026-12-02 05:30:00

"""

import sqlalchemy as sa
from alembic import op

import portal.models.base

revision = "0020_background_tasks"
down_revision = "0019_object_storage"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.alter_column("storage_key", existing_type=sa.String(length=200), nullable=True)
        batch_op.alter_column("sha256", existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(sa.Column("render_context", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("rendered_at", portal.models.base.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("request_id")
    # a notice still being rendered has no file: it cannot be kept by the older schema
    op.execute(
        "UPDATE correction_requests SET notice_id = NULL"
        " WHERE notice_id IN (SELECT id FROM notices WHERE storage_key IS NULL)"
    )
    op.execute("DELETE FROM notices WHERE storage_key IS NULL")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_column("rendered_at")
        batch_op.drop_column("render_context")
        batch_op.alter_column("sha256", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("storage_key", existing_type=sa.String(length=200), nullable=False)

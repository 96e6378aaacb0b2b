"""working-day calendar import and four-eyes publishing

Revision ID: 0013_calendar_publishing
Revises: 0012_hall_capacity
Create Date: 2026-12-02 02:30:00

"""

import sqlalchemy as sa
from alembic import op

import portal.models.base

revision = "0013_calendar_publishing"
down_revision = "0012_hall_capacity"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "calendar_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("imported_at", portal.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("imported_by_id", sa.Integer(), nullable=True),
        sa.Column("changed_days", sa.JSON(), nullable=False),
        sa.Column("moved_cases", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["imported_by_id"],
            ["users.id"],
            name=op.f("fk_calendar_imports_imported_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_imports")),
    )
    with op.batch_alter_table("calendar_imports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calendar_imports_year"), ["year"], unique=False)

    with op.batch_alter_table("item_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submitted_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("published_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_item_versions_submitted_by_id_users"),
            "users",
            ["submitted_by_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_item_versions_published_by_id_users"),
            "users",
            ["published_by_id"],
            ["id"],
        )


def downgrade():
    with op.batch_alter_table("item_versions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_item_versions_published_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_item_versions_submitted_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("published_by_id")
        batch_op.drop_column("submitted_by_id")

    with op.batch_alter_table("calendar_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_imports_year"))
    op.drop_table("calendar_imports")

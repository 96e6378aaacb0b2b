"""halls, windows, categories and weekly appointment templates

Weekly sessions and extra sessions (appointment_sessions), closures (appointment_closures),
and a slot's ``active`` flag: a slot the template or a closure no longer offers takes no new
bookings but is kept for the bookings it holds.

Revision ID: 0012_hall_capacity
Revises: 0011_staff_accounts
Create Date: 2026-12-02 02:30:00

"""

import sqlalchemy as sa
from alembic import op

import portal.models.base

revision = "0012_hall_capacity"
down_revision = "0011_staff_accounts"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "appointment_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("starts_at", sa.Time(), nullable=False),
        sa.Column("ends_at", sa.Time(), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            portal.models.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["queue_categories.id"],
            name=op.f("fk_appointment_sessions_category_id_queue_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["service_halls.id"],
            name=op.f("fk_appointment_sessions_hall_id_service_halls"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_sessions")),
    )
    with op.batch_alter_table("appointment_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_appointment_sessions_category", ["category_id", "weekday"], unique=False
        )
    op.create_table(
        "appointment_closures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("part", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            portal.models.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["queue_categories.id"],
            name=op.f("fk_appointment_closures_category_id_queue_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_appointment_closures_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["service_halls.id"],
            name=op.f("fk_appointment_closures_hall_id_service_halls"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_closures")),
    )
    with op.batch_alter_table("appointment_closures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_appointment_closures_hall_days", ["hall_id", "last_day"], unique=False
        )
    with op.batch_alter_table("appointment_slots", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table("appointment_slots", schema=None) as batch_op:
        batch_op.drop_column("active")
    with op.batch_alter_table("appointment_closures", schema=None) as batch_op:
        batch_op.drop_index("ix_appointment_closures_hall_days")
    op.drop_table("appointment_closures")
    with op.batch_alter_table("appointment_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_appointment_sessions_category")
    op.drop_table("appointment_sessions")

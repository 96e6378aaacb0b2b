"""SMS codes for phone confirmation and password reset

Revision ID: 0014_phone_codes
Revises: 0013_calendar_publishing
Create Date: 2026-12-02 02:30:00

A registration, a password reset or a change of phone is a challenge (the browser keeps a random
token in its session, the row its SHA-256); each code sent for it is a row of sms_codes holding
only a keyed hash of the code.
"""

import sqlalchemy as sa
from alembic import op

import portal.models.base

revision = "0014_phone_codes"
down_revision = "0013_calendar_publishing"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "phone_challenges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("completed_at", portal.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            portal.models.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "sms_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("expires_at", portal.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", portal.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            portal.models.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["challenge_id"], ["phone_challenges.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sms_codes", schema=None) as batch_op:
        batch_op.create_index("ix_sms_codes_phone_created", ["phone", "created_at"], unique=False)
        batch_op.create_index("ix_sms_codes_client_created", ["client", "created_at"], unique=False)
        batch_op.create_index("ix_sms_codes_challenge", ["challenge_id", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("sms_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_sms_codes_challenge")
        batch_op.drop_index("ix_sms_codes_client_created")
        batch_op.drop_index("ix_sms_codes_phone_created")
    op.drop_table("sms_codes")
    op.drop_table("phone_challenges")

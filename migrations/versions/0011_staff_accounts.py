"""staff accounts: several roles, two-factor login, must-change password

Revision ID: 0011_staff_accounts
Revises: 0010_data_use_role
Create Date: 2026-12-02 02:30:00

"""

import sqlalchemy as sa
from alembic import op

import portal.models.base

revision = "0011_staff_accounts"
down_revision = "0010_data_use_role"
branch_labels = None
depends_on = None

ROLE = sa.Enum(
    "citizen",
    "counter",
    "reviewer",
    "admin",
    name="staff_role",
    native_enum=False,
    create_constraint=True,
    length=32,
)


def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "totp_enrolled_at", portal.models.base.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "second_factor_exempt", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )

    op.create_table(
        "staff_roles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", ROLE, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_staff_roles_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "role", name=op.f("pk_staff_roles")),
    )
    with op.batch_alter_table("staff_roles") as batch_op:
        batch_op.create_index("ix_staff_roles_role", ["role"], unique=False)
    # every existing staff member holds the role they act in
    op.execute(
        "INSERT INTO staff_roles (user_id, role) SELECT id, role FROM users WHERE role <> 'citizen'"
    )

    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=256), nullable=False),
        sa.Column("used_at", portal.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            portal.models.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_recovery_codes_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
    )
    with op.batch_alter_table("recovery_codes") as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_codes_user_id"), ["user_id"], unique=False)

    op.create_table(
        "second_factor_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            portal.models.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_second_factor_failures_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_second_factor_failures")),
    )
    with op.batch_alter_table("second_factor_failures") as batch_op:
        batch_op.create_index(
            "ix_second_factor_failures_user_created", ["user_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_second_factor_failures_addr_created", ["remote_addr", "created_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("second_factor_failures") as batch_op:
        batch_op.drop_index("ix_second_factor_failures_addr_created")
        batch_op.drop_index("ix_second_factor_failures_user_created")
    op.drop_table("second_factor_failures")
    with op.batch_alter_table("recovery_codes") as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_codes_user_id"))
    op.drop_table("recovery_codes")
    with op.batch_alter_table("staff_roles") as batch_op:
        batch_op.drop_index("ix_staff_roles_role")
    op.drop_table("staff_roles")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("second_factor_exempt")
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_enrolled_at")
        batch_op.drop_column("totp_secret")
        batch_op.drop_column("must_change_password")

"""cases follow declared steps to delivery; licence validity and revocation

Revision ID: 0015_delivery
Revises: 0014_phone_codes
Create Date: 2026-12-02 02:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0015_delivery"
down_revision = "0014_phone_codes"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("item_versions", schema=None) as batch_op:
        # the result's term ({"years": 1} / {"months": 6} / {"long": true}) and the delivery
        # methods the item offers (online / pickup / post)
        batch_op.add_column(sa.Column("result_term", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("delivery_methods", sa.JSON(), nullable=True))
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivery_method", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("delivery_address", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("post_carrier", sa.String(length=40), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("post_tracking", sa.String(length=40), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("mailed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("elicences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("revoke_reason", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("revoked_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_elicences_revoked_by_id_users", "users", ["revoked_by_id"], ["id"]
        )


def downgrade():
    # elicences is referenced by no table: copied without its three columns (SQLite batch mode)
    with op.batch_alter_table("elicences", schema=None) as batch_op:
        batch_op.drop_constraint("fk_elicences_revoked_by_id_users", type_="foreignkey")
        batch_op.drop_column("revoked_by_id")
        batch_op.drop_column("revoke_reason")
        batch_op.drop_column("revoked_on")
    # applications and item_versions are referenced by other tables: copying them would break
    # those references on SQLite, so their plain columns are dropped in place (SQLite >= 3.35
    # and PostgreSQL both have ALTER TABLE … DROP COLUMN)
    for column in (
        "delivered_at",
        "mailed_at",
        "post_tracking",
        "post_carrier",
        "delivery_address",
        "delivery_method",
    ):
        op.drop_column("applications", column)
    op.drop_column("item_versions", "delivery_methods")
    op.drop_column("item_versions", "result_term")

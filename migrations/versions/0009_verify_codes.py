"""verification codes: the random code in each e-licence's and notice's QR (/verify/c/<code>)

Revision ID: 0009_verify_codes
Revises: 0008_counter
Create Date: 2026-12-02 00:30:00

Existing licences and notices get a code too (their printed QR keeps its old address, which
still works; the code is shown to the holder for a reissued copy).
"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_verify_codes'
down_revision = '0008_counter'
branch_labels = None
depends_on = None

TABLES = ('elicences', 'notices')


def upgrade():
    conn = op.get_bind()
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('verify_code', sa.String(length=43), nullable=True))
        rows = sa.table(table, sa.column('id', sa.Integer), sa.column('verify_code', sa.String))
        for (row_id,) in conn.execute(sa.select(rows.c.id)).all():
            conn.execute(
                rows.update()
                .where(rows.c.id == row_id)
                .values(verify_code=secrets.token_urlsafe(24))
            )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('verify_code', existing_type=sa.String(length=43), nullable=False)
            batch_op.create_index(batch_op.f(f'ix_{table}_verify_code'), ['verify_code'], unique=True)


def downgrade():
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_verify_code'))
            batch_op.drop_column('verify_code')

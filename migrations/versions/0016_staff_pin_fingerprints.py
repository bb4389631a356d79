"""A staff PIN's fast keyed fingerprint, beside its slow hash, for redacting it from messages.

Existing rows start without one: each gets it at the staff member's next right PIN.

Revision ID: 0016
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = '0016'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('vendor_users') as batch_op:
        batch_op.add_column(sa.Column('pin_fingerprint', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('vendor_users') as batch_op:
        batch_op.drop_column('pin_fingerprint')

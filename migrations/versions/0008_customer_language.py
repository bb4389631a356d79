"""A customer's language is their own choice (LANG) or, when NULL, their vendor's.

Until now every row said 'en' because nobody could choose: those become NULL, so that they
follow the vendor's `language`.

Revision ID: 0008
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customers') as batch_op:
        batch_op.alter_column('language', existing_type=sa.String(length=8), nullable=True)
    op.execute("UPDATE customers SET language = NULL")


def downgrade() -> None:
    op.execute("UPDATE customers SET language = 'en' WHERE language IS NULL")
    with op.batch_alter_table('customers') as batch_op:
        batch_op.alter_column('language', existing_type=sa.String(length=8), nullable=False)

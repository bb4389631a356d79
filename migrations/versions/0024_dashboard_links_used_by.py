"""Which browser used a dashboard link (a hash of its sign-in form's nonce): that browser
pressing the button again, a double tap, goes on to the dashboard instead of being told the
link was used.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-28 11:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('dashboard_links', sa.Column('used_by', sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column('dashboard_links', 'used_by')

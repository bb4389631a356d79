"""A show's language, from its file: NULL (every show until now) answers in its country's
language when the bot speaks it, else in English.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-28 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('shows', sa.Column('language', sa.String(length=8), nullable=True))


def downgrade() -> None:
    op.drop_column('shows', 'language')

"""When Twilio's answer to an outbound message's send was recorded (sent, or refused): a
broadcast's auto-pause counts the sends answered since its launch or last resume, including
the pushes held during a pause and sent after it.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-27 05:00:00
"""
from alembic import op
import sqlalchemy as sa

import models.base


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('whatsapp_messages', sa.Column('answered_at', models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('whatsapp_messages', 'answered_at')

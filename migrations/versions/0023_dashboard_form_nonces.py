"""The one-time nonces of the dashboard's forms that change something: a form sent twice (a
double tap, a browser's resend) adjusted points or saved a draft twice.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-28 10:00:00
"""
from alembic import op
import sqlalchemy as sa

import models.base


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dashboard_form_nonces',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('went_to', sa.String(length=255), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_dashboard_form_nonces_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_dashboard_form_nonces')),
    sa.UniqueConstraint('tenant_id', 'nonce', name=op.f('uq_dashboard_form_nonces_tenant_id_nonce'))
    )


def downgrade() -> None:
    op.drop_table('dashboard_form_nonces')

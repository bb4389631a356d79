"""The owner's dashboard: one-time sign-in links (sent by the bot on DASHBOARD) and browser sessions.

Revision ID: 0015
Revises: 0016
Create Date: 2026-11-26 07:04:38.874581
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = '0015'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dashboard_links',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('vendor_user_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'vendor_user_id'], ['vendor_users.tenant_id', 'vendor_users.id'], name=op.f('fk_dashboard_links_tenant_id_vendor_user_id_vendor_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_dashboard_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_dashboard_links_token_hash'))
    )
    op.create_table('dashboard_sessions',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('vendor_user_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'vendor_user_id'], ['vendor_users.tenant_id', 'vendor_users.id'], name=op.f('fk_dashboard_sessions_tenant_id_vendor_user_id_vendor_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_dashboard_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_dashboard_sessions_token_hash'))
    )


def downgrade() -> None:
    op.drop_table('dashboard_sessions')
    op.drop_table('dashboard_links')

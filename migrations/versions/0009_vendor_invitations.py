"""Vendor invitations and the platform's own conversation (setting up a vendor by chat).

Revision ID: 0009
Revises: 0004
Create Date: 2026-11-26 06:24:34.008014
"""
from alembic import op
import sqlalchemy as sa
import models.base

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('vendor_invitations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('phone_number', sa.String(length=20), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Uuid(), nullable=True),
    sa.Column('conversation_state', models.base.JSONType, nullable=False),
    sa.Column('setup_updated_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_vendor_invitations_tenant_id_tenants'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vendor_invitations')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_vendor_invitations_token_hash'))
    )
    with op.batch_alter_table('vendor_invitations', schema=None) as batch_op:
        batch_op.create_index('ix_vendor_invitations_phone_number', ['phone_number', 'created_at'], unique=False)

    op.create_table('platform_messages',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('message_sid', sa.String(length=64), nullable=False),
    sa.Column('invitation_id', sa.Uuid(), nullable=True),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('from_number', sa.String(length=20), nullable=False),
    sa.Column('to_number', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('reply', models.base.JSONType, nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invitation_id'], ['vendor_invitations.id'], name=op.f('fk_platform_messages_invitation_id_vendor_invitations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_platform_messages')),
    sa.UniqueConstraint('message_sid', name=op.f('uq_platform_messages_message_sid'))
    )


def downgrade() -> None:
    op.drop_table('platform_messages')
    with op.batch_alter_table('vendor_invitations', schema=None) as batch_op:
        batch_op.drop_index('ix_vendor_invitations_phone_number')

    op.drop_table('vendor_invitations')

"""Broadcasts and their frozen audiences; a push may carry its own template and its broadcast.

Revision ID: 0014
Revises: 0006
Create Date: 2026-11-26 07:09:00.437875
"""
from alembic import op
import sqlalchemy as sa
import models.base

revision = '0014'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('broadcasts',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('template', models.base.JSONType, nullable=True),
    sa.Column('media_url', sa.String(length=1000), nullable=True),
    sa.Column('segment', models.base.JSONType, nullable=False),
    sa.Column('send_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('quiet_hours', models.base.JSONType, nullable=True),
    sa.Column('messages_per_second', sa.Integer(), nullable=True),
    sa.Column('retarget_of', sa.Uuid(), nullable=True),
    sa.Column('retarget', sa.String(length=20), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('pause_reason', sa.String(length=255), nullable=True),
    sa.Column('total_recipients', sa.Integer(), nullable=False),
    sa.Column('runner', sa.Uuid(), nullable=True),
    sa.Column('runner_until', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('launched_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resumed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_broadcasts_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_broadcasts'))
    )
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.create_index('ix_broadcasts_status', ['status', 'send_at'], unique=False)
        batch_op.create_index('ix_broadcasts_tenant', ['tenant_id', 'created_at'], unique=False)

    op.create_table('broadcast_recipients',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('broadcast_id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('message_id', sa.Uuid(), nullable=True),
    sa.Column('skip_reason', sa.String(length=20), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'broadcast_id'], ['broadcasts.tenant_id', 'broadcasts.id'], name=op.f('fk_broadcast_recipients_tenant_id_broadcast_id_broadcasts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'customer_id'], ['customers.tenant_id', 'customers.id'], name=op.f('fk_broadcast_recipients_tenant_id_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'broadcast_id', 'customer_id', name=op.f('pk_broadcast_recipients'))
    )
    with op.batch_alter_table('broadcast_recipients', schema=None) as batch_op:
        batch_op.create_index('ix_broadcast_recipients_pending', ['tenant_id', 'broadcast_id', 'customer_id'], unique=False, postgresql_where=sa.text('message_id IS NULL AND skip_reason IS NULL'), sqlite_where=sa.text('message_id IS NULL AND skip_reason IS NULL'))

    with op.batch_alter_table('whatsapp_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('template_sid', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('broadcast_id', sa.Uuid(), nullable=True))
        batch_op.create_index('ix_whatsapp_messages_broadcast_created', ['tenant_id', 'broadcast_id', 'created_at'], unique=False, postgresql_where=sa.text('broadcast_id IS NOT NULL'), sqlite_where=sa.text('broadcast_id IS NOT NULL'))
        batch_op.create_index('ix_whatsapp_messages_broadcast_status', ['tenant_id', 'broadcast_id', 'status'], unique=False, postgresql_where=sa.text('broadcast_id IS NOT NULL'), sqlite_where=sa.text('broadcast_id IS NOT NULL'))
        batch_op.create_index('ix_whatsapp_messages_marketing', ['tenant_id', 'created_at'], unique=False, postgresql_where=sa.text("category = 'marketing'"), sqlite_where=sa.text("category = 'marketing'"))
        batch_op.create_foreign_key(batch_op.f('fk_whatsapp_messages_tenant_id_broadcast_id_broadcasts'), 'broadcasts', ['tenant_id', 'broadcast_id'], ['tenant_id', 'id'])



def downgrade() -> None:
    with op.batch_alter_table('whatsapp_messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_whatsapp_messages_tenant_id_broadcast_id_broadcasts'), type_='foreignkey')
        batch_op.drop_index('ix_whatsapp_messages_marketing', postgresql_where=sa.text("category = 'marketing'"), sqlite_where=sa.text("category = 'marketing'"))
        batch_op.drop_index('ix_whatsapp_messages_broadcast_status', postgresql_where=sa.text('broadcast_id IS NOT NULL'), sqlite_where=sa.text('broadcast_id IS NOT NULL'))
        batch_op.drop_index('ix_whatsapp_messages_broadcast_created', postgresql_where=sa.text('broadcast_id IS NOT NULL'), sqlite_where=sa.text('broadcast_id IS NOT NULL'))
        batch_op.drop_column('broadcast_id')
        batch_op.drop_column('template_sid')

    with op.batch_alter_table('broadcast_recipients', schema=None) as batch_op:
        batch_op.drop_index('ix_broadcast_recipients_pending', postgresql_where=sa.text('message_id IS NULL AND skip_reason IS NULL'), sqlite_where=sa.text('message_id IS NULL AND skip_reason IS NULL'))

    op.drop_table('broadcast_recipients')
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.drop_index('ix_broadcasts_tenant')
        batch_op.drop_index('ix_broadcasts_status')

    op.drop_table('broadcasts')

"""Every key of a tenant-scoped table leads with tenant_id: redemption codes unique per vendor

Revision ID: 0013
Revises: 0004
"""
from alembic import op

revision = '0013'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reward_redemptions', schema=None) as batch_op:
        batch_op.drop_constraint('uq_reward_redemptions_redemption_code', type_='unique')
        batch_op.drop_constraint('uq_reward_redemptions_media_token', type_='unique')
        batch_op.create_unique_constraint(
            op.f('uq_reward_redemptions_tenant_id_redemption_code'), ['tenant_id', 'redemption_code']
        )
        batch_op.create_index('ix_reward_redemptions_media_token', ['media_token'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reward_redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_reward_redemptions_media_token')
        batch_op.drop_constraint(op.f('uq_reward_redemptions_tenant_id_redemption_code'), type_='unique')
        batch_op.create_unique_constraint('uq_reward_redemptions_media_token', ['media_token'])
        batch_op.create_unique_constraint('uq_reward_redemptions_redemption_code', ['redemption_code'])

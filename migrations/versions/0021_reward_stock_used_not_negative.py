"""A reward's count of the units its redemptions hold (`stock_used`) is never below zero, as
its check already keeps it from going past the stock. A count stored below zero before it is
counted again from the redemptions that hold a unit.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-27 10:00:00
"""
from alembic import op


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A unit given back twice before this check left a count below zero, on which adding the
    # check would abort the deploy. Counted again from the redemptions holding a unit (pending or
    # fulfilled, as bot/services/rewards.py HOLDING_STOCK), not set to zero: a pending code
    # given back later would take zero below zero, and its transaction would fail on the check.
    op.execute(
        "UPDATE rewards SET stock_used = (SELECT count(*) FROM reward_redemptions r"
        " WHERE r.tenant_id = rewards.tenant_id AND r.reward_id = rewards.id AND r.status IN ('pending', 'fulfilled'))"
        " WHERE stock_used < 0"
    )
    with op.batch_alter_table('rewards', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_rewards_stock_used_not_negative'), 'stock_used >= 0')


def downgrade() -> None:
    with op.batch_alter_table('rewards', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_rewards_stock_used_not_negative'), type_='check')

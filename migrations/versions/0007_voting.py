"""SMS voting: shows, short codes, contestants, episodes, packages, votes, sms_vote_logs.

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-26 06:23:27.857677
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = '0007'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('episode_voters',
    sa.Column('episode_id', sa.Uuid(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('show_id', sa.Uuid(), nullable=False),
    sa.Column('votes', sa.Integer(), nullable=False),
    sa.Column('free_votes', sa.Integer(), nullable=False),
    sa.Column('minute', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('minute_votes', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('episode_id', 'phone', name=op.f('pk_episode_voters'))
    )
    op.create_table('shows',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('whatsapp_number', sa.String(length=20), nullable=True),
    sa.Column('max_votes_per_phone_per_episode', sa.Integer(), nullable=False),
    sa.Column('max_votes_per_phone_per_minute', sa.Integer(), nullable=False),
    sa.Column('whatsapp_free_votes_per_episode', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shows')),
    sa.UniqueConstraint('code', name=op.f('uq_shows_code')),
    sa.UniqueConstraint('whatsapp_number', name=op.f('uq_shows_whatsapp_number'))
    )
    op.create_table('sms_vote_logs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('show_id', sa.Uuid(), nullable=False),
    sa.Column('episode_id', sa.Uuid(), nullable=True),
    sa.Column('vote_id', sa.Uuid(), nullable=True),
    sa.Column('phone_number', sa.String(length=20), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('carrier', sa.String(length=30), nullable=False),
    sa.Column('short_code', sa.String(length=20), nullable=False),
    sa.Column('message_content', sa.Text(), nullable=False),
    sa.Column('carrier_message_id', sa.String(length=64), nullable=False),
    sa.Column('charge_amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=30), nullable=True),
    sa.Column('reply', sa.Text(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_vote_logs')),
    sa.UniqueConstraint('carrier', 'carrier_message_id', name=op.f('uq_sms_vote_logs_carrier_carrier_message_id'))
    )
    op.create_table('votes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('show_id', sa.Uuid(), nullable=False),
    sa.Column('episode_id', sa.Uuid(), nullable=False),
    sa.Column('contestant_id', sa.Uuid(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('votes', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_votes'))
    )
    with op.batch_alter_table('votes', schema=None) as batch_op:
        batch_op.create_index('ix_votes_episode_contestant', ['episode_id', 'contestant_id'], unique=False)

    op.create_table('contestants',
    sa.Column('show_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['show_id'], ['shows.id'], name=op.f('fk_contestants_show_id_shows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('show_id', 'id', name=op.f('pk_contestants')),
    sa.UniqueConstraint('show_id', 'code', name=op.f('uq_contestants_show_id_code')),
    sa.UniqueConstraint('show_id', 'number', name=op.f('uq_contestants_show_id_number'))
    )
    op.create_table('episodes',
    sa.Column('show_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('voting_start', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('voting_end', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('voting_start < voting_end', name=op.f('ck_episodes_window')),
    sa.ForeignKeyConstraint(['show_id'], ['shows.id'], name=op.f('fk_episodes_show_id_shows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('show_id', 'id', name=op.f('pk_episodes')),
    sa.UniqueConstraint('show_id', 'number', name=op.f('uq_episodes_show_id_number'))
    )
    op.create_table('vote_balances',
    sa.Column('show_id', sa.Uuid(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('votes', sa.Integer(), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('votes >= 0', name=op.f('ck_vote_balances_not_negative')),
    sa.ForeignKeyConstraint(['show_id'], ['shows.id'], name=op.f('fk_vote_balances_show_id_shows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('show_id', 'phone', name=op.f('pk_vote_balances'))
    )
    op.create_table('vote_opt_outs',
    sa.Column('show_id', sa.Uuid(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['show_id'], ['shows.id'], name=op.f('fk_vote_opt_outs_show_id_shows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('show_id', 'phone', name=op.f('pk_vote_opt_outs'))
    )
    op.create_table('vote_packages',
    sa.Column('show_id', sa.Uuid(), nullable=False),
    sa.Column('keyword', sa.String(length=20), nullable=False),
    sa.Column('carrier', sa.String(length=30), nullable=False),
    sa.Column('shortcode', sa.String(length=20), nullable=False),
    sa.Column('votes', sa.Integer(), nullable=False),
    sa.Column('bonus_votes', sa.Integer(), nullable=False),
    sa.Column('price', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.ForeignKeyConstraint(['show_id'], ['shows.id'], name=op.f('fk_vote_packages_show_id_shows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('show_id', 'keyword', name=op.f('pk_vote_packages')),
    sa.UniqueConstraint('carrier', 'shortcode', 'keyword', name=op.f('uq_vote_packages_carrier_shortcode_keyword'))
    )
    op.create_table('vote_shortcodes',
    sa.Column('carrier', sa.String(length=30), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('show_id', sa.Uuid(), nullable=False),
    sa.Column('price', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.ForeignKeyConstraint(['show_id'], ['shows.id'], name=op.f('fk_vote_shortcodes_show_id_shows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('carrier', 'number', name=op.f('pk_vote_shortcodes'))
    )
    op.create_table('episode_contestants',
    sa.Column('show_id', sa.Uuid(), nullable=False),
    sa.Column('episode_id', sa.Uuid(), nullable=False),
    sa.Column('contestant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['show_id', 'contestant_id'], ['contestants.show_id', 'contestants.id'], name=op.f('fk_episode_contestants_show_id_contestant_id_contestants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['show_id', 'episode_id'], ['episodes.show_id', 'episodes.id'], name=op.f('fk_episode_contestants_show_id_episode_id_episodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('show_id', 'episode_id', 'contestant_id', name=op.f('pk_episode_contestants'))
    )


def downgrade() -> None:
    op.drop_table('episode_contestants')
    op.drop_table('vote_shortcodes')
    op.drop_table('vote_packages')
    op.drop_table('vote_opt_outs')
    op.drop_table('vote_balances')
    op.drop_table('episodes')
    op.drop_table('contestants')
    with op.batch_alter_table('votes', schema=None) as batch_op:
        batch_op.drop_index('ix_votes_episode_contestant')

    op.drop_table('votes')
    op.drop_table('sms_vote_logs')
    op.drop_table('shows')
    op.drop_table('episode_voters')

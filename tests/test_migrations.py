"""The migrations build exactly the schema the models describe, and undo cleanly."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import migrate
from bot.services.tenants import load_tenant
from bot.services.customers import enroll
from models import Base, Reward, RewardRedemption
from models.base import utcnow
from tests.conftest import PIN_PEPPER, tenant_file


def test_migrations_match_the_models(db):
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_the_migrations_make_partial_the_indexes_the_models_make_partial(db):
    """What compare_metadata leaves out: an index's condition (`partial` in models/base.py)."""
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            rows = connection.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"))
        else:
            rows = connection.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
        partial_in_database = {name for name, definition in rows if " WHERE " in definition}
    partial_in_models = {
        index.name for table in Base.metadata.tables.values() for index in table.indexes
        if index.dialect_options["postgresql"]["where"] is not None
    }
    assert "ix_whatsapp_messages_outbox" in partial_in_models
    assert partial_in_database == partial_in_models


def test_migrations_downgrade_and_upgrade_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'roundtrip.sqlite3'}"
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    migrate.upgrade(url)
    assert "spin_history" in inspect(create_engine(url)).get_table_names()


@pytest.mark.parametrize("stock_used", [-1, 21])
def test_a_rewards_units_used_stay_between_zero_and_its_stock(db, mama, stock_used):
    """The Jollof rice plate offers 20: its count can be neither below zero nor past them."""
    with pytest.raises(IntegrityError), db.transaction() as session:
        session.execute(update(Reward).where(Reward.name == "Jollof rice plate").values(stock_used=stock_used))


def test_the_check_on_units_used_recounts_a_count_below_zero_stored_before_it(tmp_path):
    """A unit given back twice before migration 0021 left -1 while a code still holds one: the
    deploy counts the units the reward's redemptions hold (1), rather than abort, or take it to
    0, from which that code's own give-back would break the check."""
    url = f"sqlite:///{tmp_path / 'before.sqlite3'}"
    migrate.upgrade(url)
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        tenant = load_tenant(session, tenant_file(), pin_pepper=PIN_PEPPER).tenant
        jollof = session.scalars(select(Reward).where(Reward.name == "Jollof rice plate")).one()
        customer = enroll(session, tenant, "+2348031234567", utcnow(), consent=True).customer
        session.add(RewardRedemption(
            tenant_id=tenant.id, customer_id=customer.id, reward_id=jollof.id, points_deducted=0,
            redemption_code="RD-7KX4QF", media_token="t", expires_at=utcnow(),
        ))
    migrate.downgrade(url, "0020")
    with engine.begin() as connection:
        connection.execute(update(Reward.__table__).where(Reward.name == "Jollof rice plate").values(stock_used=-1))
    migrate.upgrade(url)
    with engine.connect() as connection:
        assert connection.scalar(select(Reward.stock_used).where(Reward.name == "Jollof rice plate")) == 1

"""The migrations build exactly the schema the models describe, and undo cleanly."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, update
from sqlalchemy.exc import IntegrityError

from bot import migrate
from models import Base, Reward


def test_migrations_match_the_models(db):
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


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

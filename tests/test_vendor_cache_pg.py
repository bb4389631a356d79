"""The vendors' rows kept between messages see any change of the row, even one written without
the ORM (PostgreSQL's xmin), and are read again after MAX_AGE (PostgreSQL only)."""
from __future__ import annotations

from sqlalchemy import text

from bot import vendor_cache


def test_a_change_made_without_the_orm_shows_at_the_next_message(app, mama, phone, db):
    customer = phone("+2348031119011")
    customer.send("JOIN MAMA")
    customer.send("BAL")
    with db.engine.begin() as connection:  # updated_at stays as it was
        connection.execute(text("UPDATE tenants SET name = 'Mama Put Express'"))
    assert customer.send("BAL").text.startswith("*Mama Put Express*")


def test_a_vendor_held_longer_than_its_age_is_read_again(app, mama, phone, db, monkeypatch):
    cache = app.extensions["dispatcher"].vendors
    now = [1000.0]
    monkeypatch.setattr(cache, "_clock", lambda: now[0])
    customer = phone("+2348031119012")
    customer.send("JOIN MAMA")
    read = []
    original = cache._read
    monkeypatch.setattr(cache, "_read", lambda *args: read.append(1) or original(*args))
    customer.send("BAL")
    assert read == []
    now[0] += vendor_cache.MAX_AGE + 1
    customer.send("BAL")
    assert read == [1]

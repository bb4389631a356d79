"""The vendors' rows kept between messages (bot/vendor_cache.py): a change shows at the next
message, and the settings every message shares cannot be changed in place (both databases)."""
from __future__ import annotations

import copy
import json
import pickle

import pytest
from sqlalchemy import select, update

from bot.services.tenants import load_tenant
from bot.vendor_cache import VendorCache, frozen
from models import Tenant
from tests.conftest import PIN_PEPPER, tenant_file


def test_a_reload_of_the_vendor_shows_at_the_next_message(app, mama, phone, db):
    customer = phone("+2348031119001")
    customer.send("JOIN MAMA")
    assert customer.send("BAL").text.startswith("*Mama Put Kitchen*")  # the vendor is held now
    with db.transaction() as session:  # as the CLI's reload does, in another process
        load_tenant(session, tenant_file(name="Mama Put Canteen"), pin_pepper=PIN_PEPPER)
    assert customer.send("BAL").text.startswith("*Mama Put Canteen*")


def test_a_settings_change_shows_at_the_next_message(app, mama, phone, db):
    customer = phone("+2348031119002")
    customer.send("JOIN MAMA")
    customer.send("BAL")
    with db.transaction() as session:
        tenant = session.scalars(select(Tenant)).one()
        tenant.settings = {**tenant.settings, "welcome_bonus": 75}  # as bot/services/settings.py changes them
    assert "75 welcome points" in phone("+2348031119003").send("JOIN MAMA").text


def test_shared_settings_refuse_a_change_in_place_and_copy_as_plain_values():
    settings = frozen({"points_rules": [{"type": "per_amount_spent", "points": 1}], "wheel": {"items": []}, "n": 1})
    for change in (
        lambda: settings.update(n=2), lambda: settings.__setitem__("n", 2), lambda: settings.pop("n"),
        lambda: settings["points_rules"].append({}), lambda: settings["points_rules"][0].update(points=2),
        lambda: settings["wheel"].setdefault("x", 1), lambda: settings["points_rules"].sort(),
    ):
        with pytest.raises(TypeError, match="assign new ones"):
            change()
    assert settings == {"points_rules": [{"type": "per_amount_spent", "points": 1}], "wheel": {"items": []}, "n": 1}
    for copied in (copy.deepcopy(settings), pickle.loads(pickle.dumps(settings))):
        copied["points_rules"][0]["points"] = 2  # a copy is the caller's own
        assert type(copied) is dict and type(copied["points_rules"]) is list
        assert settings["points_rules"][0]["points"] == 1
    assert json.loads(json.dumps(settings)) == settings and {**settings, "n": 2}["n"] == 2


def test_a_vendor_read_again_switched_off_is_taken_for_gone(app, mama, db):
    """Switched off between a message's first query and the reading of its row."""
    with db.transaction() as session:
        session.execute(update(Tenant).values(is_active=False))
    with db.sessions() as session:
        assert VendorCache().tenant(session, mama.id, "a version not held") is None

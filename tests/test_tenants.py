"""`flask --app wsgi tenants load FILE.json`: validated, idempotent vendor configuration."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from bot.services.tenants import TenantFileError, parse_tenant_file
from models import AuditLog, Reward, Tenant, VendorUser
from tests.conftest import EXAMPLE_TENANT, count


def load(app, path):
    return app.test_cli_runner().invoke(args=["tenants", "load", str(path)])


def write(tmp_path, **changes):
    raw = json.loads(EXAMPLE_TENANT.read_text())
    raw.update(changes)
    path = tmp_path / "tenant.json"
    path.write_text(json.dumps(raw))
    return path


def test_example_file_creates_the_vendor_and_its_staff(app, db):
    result = load(app, EXAMPLE_TENANT)
    assert result.exit_code == 0, result.output
    assert "Created vendor MAMA" in result.output
    with db.sessions() as session:
        tenant = session.scalars(select(Tenant)).one()
        assert (tenant.name, tenant.whatsapp_number, tenant.currency, tenant.timezone) == (
            "Mama Put Kitchen", "+14155238886", "NGN", "Africa/Lagos",
        )
        assert tenant.settings["welcome_bonus"] == 50
        rewards = session.scalars(select(Reward).order_by(Reward.position)).all()
        assert [(r.name, r.points_required, r.stock, r.max_per_customer) for r in rewards] == [
            ("Free Zobo drink", 100, None, None), ("Jollof rice plate", 500, 20, 2),
        ]
        staff = {user.phone_number: user for user in session.scalars(select(VendorUser))}
    assert set(staff) == {"+2348030000001", "+2348030000002"}  # local 0803... read as Nigerian
    bayo = staff["+2348030000002"]
    assert bayo.pin_hash and "731205" not in bayo.pin_hash
    assert check_password_hash(bayo.pin_hash, "731205")


def test_loading_the_same_file_twice_changes_nothing(app, db):
    load(app, EXAMPLE_TENANT)
    with db.sessions() as session:
        before = session.scalars(select(Tenant)).one().updated_at
        hashes = set(session.scalars(select(VendorUser.pin_hash)))
    result = load(app, EXAMPLE_TENANT)
    assert result.exit_code == 0
    assert "already up to date" in result.output
    with db.sessions() as session:
        assert session.scalars(select(Tenant)).one().updated_at == before
        assert set(session.scalars(select(VendorUser.pin_hash))) == hashes
    assert count(db, AuditLog) == 1


def test_a_changed_file_updates_in_place_and_disables_dropped_staff(app, db, tmp_path):
    load(app, EXAMPLE_TENANT)
    raw = json.loads(EXAMPLE_TENANT.read_text())
    path = write(tmp_path, name="Mama Put Kitchen Ikeja", staff=raw["staff"][:1])
    result = load(app, path)
    assert result.exit_code == 0, result.output
    assert "Updated vendor MAMA" in result.output
    with db.sessions() as session:
        assert session.scalars(select(Tenant.name)).one() == "Mama Put Kitchen Ikeja"
        bayo = session.scalars(select(VendorUser).where(VendorUser.phone_number == "+2348030000002")).one()
        assert bayo.is_active is False
    assert count(db, Tenant) == 1


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"code": "ma ma"}, "code"),
        ({"code": "BAL"}, "code"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"currency": "naira"}, "currency"),
        ({"whatsapp_number": "12"}, "whatsapp_number"),
        ({"welcome_bonus": "fifty"}, "welcome_bonus"),
        ({"welcome_bonus": -5}, "welcome_bonus"),
        ({"country": "XX"}, "country"),
        ({"staff": [{"name": "Ada", "phone": "not a phone", "pin": "482916"}]}, "staff.0.phone"),
        ({"staff": [{"name": "Ada", "phone": "+2348030000001", "pin": "12"}]}, "staff.0.pin"),
        ({"surprise": True}, "surprise"),
        ({"rewards": [{"name": "Zobo", "points": 10}, {"name": "Zobo", "points": 20}]}, "rewards"),
        ({"points_rules": [{"type": "per_amount_spent", "points": 1, "per_amount": 0.001}]}, "points_rules.0.per_amount"),
        ({"wheel": {"items": [{"label": "Prize", "type": "reward", "reward": "Nothing like it", "weight": 1}]}}, "wheel.items.0.reward"),
        ({"max_purchase_amount": 10**13}, "max_purchase_amount"),
    ],
)
def test_an_invalid_file_names_the_field_exits_non_zero_and_writes_nothing(app, db, tmp_path, changes, field):
    result = load(app, write(tmp_path, **changes))
    assert result.exit_code != 0
    assert f"{field}:" in result.output
    assert count(db, Tenant) == 0
    assert count(db, VendorUser) == 0


def test_a_file_that_is_not_json_is_refused(app, db, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    result = load(app, path)
    assert result.exit_code != 0
    assert "not valid JSON" in result.output
    assert count(db, Tenant) == 0


def test_missing_required_fields_are_all_named():
    with pytest.raises(TenantFileError) as error:
        parse_tenant_file({"code": "MAMA"})
    for field in ("name", "whatsapp_number", "country", "currency", "timezone"):
        assert field in error.value.messages

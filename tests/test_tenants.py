"""`flask --app wsgi tenants load FILE.json`: validated, idempotent vendor configuration."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from bot.services.tenant_file import TenantFileError, parse_tenant_file
from models import AuditLog, Reward, Tenant, Staff
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
        staff = {user.phone_number: user for user in session.scalars(select(Staff))}
    assert set(staff) == {"+2348030000001", "+2348030000002"}  # local 0803... read as Nigerian
    bayo = staff["+2348030000002"]
    assert bayo.pin_hash and "731205" not in bayo.pin_hash
    assert check_password_hash(bayo.pin_hash, "731205")


def test_loading_the_same_file_twice_changes_nothing(app, db):
    load(app, EXAMPLE_TENANT)
    with db.sessions() as session:
        before = session.scalars(select(Tenant)).one().updated_at
        hashes = set(session.scalars(select(Staff.pin_hash)))
    result = load(app, EXAMPLE_TENANT)
    assert result.exit_code == 0
    assert "already up to date" in result.output
    with db.sessions() as session:
        assert session.scalars(select(Tenant)).one().updated_at == before
        assert set(session.scalars(select(Staff.pin_hash))) == hashes
    assert count(db, AuditLog) == 1


def test_a_pin_in_other_digits_is_the_same_pin_at_the_next_load(app, db, tmp_path):
    raw = json.loads(EXAMPLE_TENANT.read_text())
    raw["staff"][1]["pin"] = "٧٣١٢٠٥"  # Bayo's 731205 in Arabic-Indic digits
    path = write(tmp_path, staff=raw["staff"])
    assert load(app, path).exit_code == 0
    result = load(app, path)
    assert "already up to date" in result.output, result.output
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
        bayo = session.scalars(select(Staff).where(Staff.phone_number == "+2348030000002")).one()
        assert bayo.is_active is False
    assert count(db, Tenant) == 1


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"code": "ma ma"}, "code"),
        ({"code": "BAL"}, "code"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "Africa/" + "x" * 300}, "timezone"),
        ({"currency": "naira"}, "currency"),
        ({"whatsapp_number": "12"}, "whatsapp_number"),
        ({"welcome_bonus": "fifty"}, "welcome_bonus"),
        ({"welcome_bonus": -5}, "welcome_bonus"),
        ({"country": "XX"}, "country"),
        ({"staff": [{"name": "Ada", "phone": "not a phone", "pin": "482916"}]}, "staff.0.phone"),
        ({"staff": [{"name": "Ada", "phone": "+2348030000001", "pin": "12"}]}, "staff.0.pin"),
        ({"surprise": True}, "surprise"),
        ({"rewards": [{"name": "Zobo", "points": 10}, {"name": "Zobo", "points": 20}]}, "rewards"),
        ({"rewards": [{"name": "Zobo", "points": 10}, {"name": "Zobo ", "points": 20}]}, "rewards"),
        ({"rewards": [{"name": " ", "points": 10}]}, "rewards.0.name"),
        ({"points_rules": [{"type": "per_amount_spent", "points": 1, "per_amount": 0.001}]}, "points_rules.0.per_amount"),
        ({"wheel": {"items": [{"label": "Prize", "type": "reward", "reward": "Nothing like it", "weight": 1}]}}, "wheel.items.0.reward"),
        ({"max_purchase_amount": 10**13}, "max_purchase_amount"),
        ({"currency": "ZZZ"}, "currency"),
        ({"name": "Mama\u0000Put"}, "name"),
        ({"staff": [{"name": "Ada\u0000", "phone": "+2348030000001", "pin": "482916"}]}, "staff.0.name"),
        ({"greeting": "Welcome\u0007"}, "greeting"),
        ({"rewards": [{"name": "Zobo", "points": 10, "stock": 10**20}]}, "rewards.0.stock"),
        ({"rewards": [{"name": "Zobo", "points": 10, "stock": 1e20}]}, "rewards.0.stock"),
        ({"rewards": [{"name": "Zobo", "points": 10, "max_per_customer": 2**31}]}, "rewards.0.max_per_customer"),
        ({"rewards": [{"name": "Zobo", "points": 10, "valid_from": "2026-12-31", "valid_until": "2026-01-01"}]}, "rewards.0.valid_until"),
        ({"rewards": [{"name": "Zobo", "points": 10, "valid_from": "2026-06-01T18:00", "valid_until": "2026-06-01T09:00"}]}, "rewards.0.valid_until"),
        ({"rewards": [{"name": "Zobo", "points": 10, "valid_until": "9999-12-31"}]}, "rewards.0.valid_until"),
        ({"rewards": [{"name": "Zobo", "points": 10, "valid_from": "0001-01-01T00:00+05:00"}]}, "rewards.0.valid_from"),
        ({"tiers": [{"name": "Gold", "min_points": 100}, {"name": "Gold", "min_points": 500}]}, "tiers"),
        ({"tiers": [{"name": "Gold", "min_points": 10**20}]}, "tiers.0.min_points"),
        ({"wheel": {"items": [{"label": "Prize", "type": "nothing", "weight": 1, "daily_cap": 10**20}]}}, "wheel.items.0.daily_cap"),
        ({"missions": [{"title": "Go", "type": "visit_count", "target": 10**20, "period": "day", "points": 1}]}, "missions.0.target"),
        ({"points_rules": [{"type": "per_amount_spent", "points": 1, "per_amount": 1e300}]}, "points_rules.0.per_amount"),
        ({"name": json.loads("[" * 500 + "]" * 500)}, "name"),
    ],
)
def test_an_invalid_file_names_the_field_exits_non_zero_and_writes_nothing(app, db, tmp_path, changes, field):
    result = load(app, write(tmp_path, **changes))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)  # an answer, never a traceback
    assert f"{field}:" in result.output
    assert count(db, Tenant) == 0
    assert count(db, Staff) == 0


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


def test_a_rewards_name_is_read_without_the_spaces_around_it_where_the_wheel_names_it_too():
    raw = json.loads(EXAMPLE_TENANT.read_text())
    raw["rewards"][0]["name"] = raw["wheel"]["items"][1]["reward"] = " Free Zobo drink "
    parsed = parse_tenant_file(raw)
    assert parsed["rewards"][0]["name"] == parsed["wheel"]["items"][1]["reward"] == "Free Zobo drink"


@pytest.mark.parametrize("rule, currency, problem", [
    ({"type": "per_amount_spent", "points": 1, "per_amount": 2.5}, "XOF", {"per_amount": ["has more decimals than the currency's 0"]}),
    ({"type": "per_amount_spent", "points": 1, "per_amount": 1.005}, "USD", {"per_amount": ["has more decimals than the currency's 2"]}),
    ({"type": "per_purchase", "points": 1, "min_amount": 99.5}, "XOF", {"min_amount": ["has more decimals than the currency's 0"]}),
    ({"type": "per_amount_spent", "points": 1, "per_amount": 0.001}, "NGN", {"per_amount": ["is smaller than the currency's smallest unit"]}),
])
def test_rule_amounts_are_whole_units_of_the_currency(rule, currency, problem):
    """The rules count in the currency's smallest unit: 2.5 francs CFA would be read as 2."""
    raw = json.loads(EXAMPLE_TENANT.read_text())
    with pytest.raises(TenantFileError) as error:
        parse_tenant_file({**raw, "currency": currency, "points_rules": [rule]})
    assert error.value.messages == {"points_rules": {0: problem}}


@pytest.mark.parametrize(
    "content, message",
    [
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON (nested too deeply)"),
        (b"\xff\xfe{}", "not UTF-8 text"),
        (b"[]", "_schema: Invalid input type."),
    ],
)
def test_a_file_that_cannot_be_read_as_a_vendor_gets_an_answer_not_a_traceback(app, db, tmp_path, content, message):
    path = tmp_path / "tenant.json"
    path.write_bytes(content)
    result = load(app, path)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert message in result.output
    assert count(db, Tenant) == 0


def test_a_file_that_starts_with_a_bom_is_read(app, db, tmp_path):
    """Some editors on Windows write a byte-order mark first."""
    path = write(tmp_path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load(app, path).exit_code == 0
    assert count(db, Tenant) == 1


def test_a_reward_may_run_for_one_day_only(app, db, tmp_path):
    rewards = [{"name": "Zobo", "points": 10, "valid_from": "2026-06-01", "valid_until": "2026-06-01"}]
    assert load(app, write(tmp_path, rewards=rewards, wheel=None)).exit_code == 0


# --- reloading an existing vendor -----------------------------------------------------------


def load_forced(app, path):
    return app.test_cli_runner().invoke(args=["tenants", "load", str(path), "--force"])


@pytest.fixture
def mama_with_history(app, phone):
    assert load(app, EXAMPLE_TENANT).exit_code == 0
    phone("+2348031234567").send("JOIN MAMA")  # a customer, with welcome points on the ledger


def vendor(db) -> Tenant:
    with db.sessions() as session:
        return session.scalars(select(Tenant)).one()


def active_staff(db) -> set[str]:
    with db.sessions() as session:
        return set(session.scalars(select(Staff.phone_number).where(Staff.is_active)))


GHANA = {"country": "GH", "currency": "GHS", "timezone": "Africa/Accra", "staff": [{"name": "Kofi", "phone": "+233241234567"}]}


def test_a_file_reusing_the_code_of_a_vendor_with_history_is_refused(app, db, tmp_path, mama_with_history):
    result = load(app, write(tmp_path, name="Chop Bar Accra", **GHANA))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "would rewrite the existing vendor MAMA (Mama Put Kitchen)" in result.output
    assert "currency: would change MAMA's currency from NGN to GHS" in result.output
    assert "country: would change MAMA's country from NG to GH" in result.output
    assert "staff: would remove all 2 of MAMA's staff" in result.output
    assert "--force" in result.output
    tenant = vendor(db)
    assert (tenant.name, tenant.currency, tenant.country) == ("Mama Put Kitchen", "NGN", "NG")
    assert active_staff(db) == {"+2348030000001", "+2348030000002"}
    assert count(db, Reward) == 2


def test_force_rewrites_the_vendor_and_says_what_it_changed(app, db, tmp_path, mama_with_history):
    result = load_forced(app, write(tmp_path, **GHANA))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Updated vendor MAMA: country NG -> GH, currency NGN -> GHS, timezone Africa/Lagos -> Africa/Accra")
    assert "staff +233241234567, staff +2348030000001 removed, staff +2348030000002 removed" in result.output
    assert (vendor(db).currency, vendor(db).country) == ("GHS", "GH")
    assert active_staff(db) == {"+233241234567"}
    with db.sessions() as session:
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "tenant.updated")).one()
    assert audit.details["forced"] == ["country", "currency", "staff"]


def test_dropping_all_staff_is_refused_even_without_history(app, db, tmp_path):
    load(app, EXAMPLE_TENANT)
    result = load(app, write(tmp_path, staff=[]))
    assert result.exit_code == 1 and "staff: would remove all 2 of MAMA's staff" in result.output
    assert active_staff(db) == {"+2348030000001", "+2348030000002"}
    assert load_forced(app, write(tmp_path, staff=[])).exit_code == 0
    assert active_staff(db) == set()


def test_a_vendor_without_history_may_change_its_currency(app, db, tmp_path):
    load(app, EXAMPLE_TENANT)
    result = load(app, write(tmp_path, currency="GHS"))
    assert result.exit_code == 0, result.output
    assert "Updated vendor MAMA: currency NGN -> GHS" in result.output
    assert vendor(db).currency == "GHS"


def test_a_vendor_with_history_may_change_everything_else(app, db, tmp_path, mama_with_history):
    raw = json.loads(EXAMPLE_TENANT.read_text())
    result = load(app, write(tmp_path, name="Mama Put Ikeja", staff=raw["staff"][:1], rewards=[], wheel=None))
    assert result.exit_code == 0, result.output
    assert "name Mama Put Kitchen -> Mama Put Ikeja" in result.output
    assert active_staff(db) == {"+2348030000001"}


def test_a_reward_runs_through_its_last_day_however_the_date_is_written(app, db, tmp_path):
    """2030-11-30 and 20301130 are the same day (both ISO 8601): it runs to that day's end."""
    ends = []
    for written in ("2030-11-30", "20301130"):
        rewards = [{"name": "Zobo", "points": 10, "valid_until": written}]
        assert load(app, write(tmp_path, rewards=rewards, wheel=None)).exit_code == 0
        with db.sessions() as session:
            ends.append(session.scalars(select(Reward.valid_until).where(Reward.name == "Zobo")).one())
    assert ends[0] == ends[1] == datetime(2030, 11, 30, 23, 0, tzinfo=timezone.utc)  # midnight after it, in Lagos

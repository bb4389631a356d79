"""VOID takes back everything the purchase caused (points, spins, missions, referral bonuses,
tier, totals), for the customer and for a referrer, or is refused saying what was used."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.services import voids
from bot.services.tenants import load_tenant
from models import Base, Customer, MissionCompletion, PointsLotAllocation, Purchase, Referral, Message
from tests.conftest import PIN_PEPPER, balance_of, count, run_jobs, tenant_file

BAYO, BAYO_PIN = "+2348030000002", "731205"
ADA, ADA_PIN = "+2348030000001", "482916"
REFERRER, FRIEND = "+2348031234567", "+2348039990000"
TIERS = [{"name": "Silver", "min_points": 300, "multiplier": 1}]


@pytest.fixture
def vendor(db, mama):
    """The example vendor (a spin per purchase, visit, spend and referral missions, referral
    points for both), with a tier the test purchase reaches."""
    with db.transaction() as session:
        load_tenant(session, tenant_file(tiers=TIERS), pin_pepper=PIN_PEPPER)


def staff_in_session(phone, number: str, pin: str):
    staff = phone(number)
    staff.send("LOG")
    assert "Customer's phone" in staff.send(pin).text  # a session for the whole test
    staff.send("CANCEL")
    return staff


@pytest.fixture
def bayo(phone, vendor):
    return staff_in_session(phone, BAYO, BAYO_PIN)


@pytest.fixture
def ada(phone, vendor):
    return staff_in_session(phone, ADA, ADA_PIN)


@pytest.fixture
def friend(phone, db, vendor):
    """A member who joined by the referrer's link and has not bought anything yet."""
    phone(REFERRER).send("JOIN MAMA")
    with db.sessions() as session:
        code = session.scalars(select(Customer.member_code).where(Customer.phone_number == REFERRER)).one()
    phone(FRIEND).send(f"JOIN MAMA R-{code}")
    assert count(db, Referral) == 1
    return phone(FRIEND)


def log(staff, number=FRIEND, amount=20000) -> str:
    assert "1. Confirm" in staff.send(f"LOG {number} {amount}").text
    return staff.send("1").text


def void(staff) -> str:
    assert "1. Confirm" in staff.send("VOID").text
    return staff.send("1").text


def standing(db, number: str) -> dict:
    """What a customer has: points, lifetime points, spins, missions, totals, tier."""
    with db.sessions() as session:
        customer = session.scalars(select(Customer).where(Customer.phone_number == number)).one()
        missions = session.scalars(select(MissionCompletion.mission).where(MissionCompletion.customer_id == customer.id)).all()
    return {
        "balance": balance_of(db, number), "spins": customer.spin_credits, "missions": sorted(missions),
        "purchases": customer.total_purchases, "spent": customer.total_spent, "tier": customer.tier,
        "last_purchase_at": customer.last_purchase_at,
    }


def ledger_is_clean(app) -> bool:
    result = app.test_cli_runner().invoke(args=["ledger", "check"])
    return result.exit_code == 0 and "0 mismatch(es)" in result.output


def test_five_log_then_void_rounds_leave_the_customer_and_referrer_nothing(bayo, friend, db, app):
    """The issue's farming: each round used to leave a spin, the spend mission's points and
    the referral bonuses behind, with no purchase on record."""
    before = {number: standing(db, number) for number in (FRIEND, REFERRER)}
    for _ in range(5):
        assert log(bayo).startswith("Logged ₦20,000")
        assert standing(db, FRIEND)["spins"] == 1 and standing(db, REFERRER)["balance"] == 100
        assert void(bayo).startswith("Voided.")
    assert {number: standing(db, number) for number in (FRIEND, REFERRER)} == before
    with db.sessions() as session:
        referral = session.scalars(select(Referral)).one()
        assert (referral.rewarded_at, referral.purchase_id) == (None, None)
        assert session.scalars(select(Purchase.status)).all() == ["voided"] * 5
    assert ledger_is_clean(app)
    # A real first purchase afterwards still pays the referral and the mission, once.
    log(bayo)
    assert standing(db, REFERRER)["balance"] == 50 + 50
    assert standing(db, FRIEND) | {"last_purchase_at": None} == {
        "balance": 50 + 220 + 50 + 150, "spins": 1, "missions": ["Spend 20,000 this week"], "purchases": 1,
        "spent": 2_000_000, "tier": "Silver", "last_purchase_at": None,
    }
    assert ledger_is_clean(app)


def test_a_referral_a_void_took_back_is_paid_by_the_next_purchase_even_after_another_one(bayo, friend, phone, db, app):
    log(bayo)  # the friend's first purchase pays the referral
    ada = phone(ADA)
    ada.send("LOG")
    ada.send(ADA_PIN)
    ada.send("CANCEL")
    log(ada, amount=1000)  # a second one, by another till
    assert void(bayo).startswith("Voided.")  # the first: the referral is taken back
    assert standing(db, REFERRER)["balance"] == 50
    log(bayo, amount=1000)
    assert standing(db, REFERRER)["balance"] == 50 + 50
    with db.sessions() as session:
        assert session.scalars(select(Referral.rewarded_at)).one() is not None
    assert ledger_is_clean(app)


def test_the_customer_and_the_referrer_are_told_what_was_taken_back(bayo, friend, db, app):
    log(bayo)
    void(bayo)
    run_jobs(app)
    with db.sessions() as session:
        bodies = dict(session.execute(
            select(Message.to_number, Message.body)
            .where(Message.direction == "outbound", Message.body.like("%cancelled%"))
        ).all())
    assert bodies[FRIEND] == (
        "*Mama Put Kitchen* cancelled a purchase of ₦20,000: 420 points were taken back. 1 wheel spin was taken back too. "
        "Balance: 50 points."
    )
    assert bodies[REFERRER] == (
        "*Mama Put Kitchen* cancelled the purchase that earned your referral bonus: 50 points were taken back. "
        "Balance: 50 points."
    )


def wheel_of(db, item: dict) -> None:
    with db.transaction() as session:
        load_tenant(session, tenant_file(tiers=TIERS, wheel={
            "daily_free_spins": 1, "spins_per_purchase": 1, "spin_min_amount": 1000, "spin_cost_points": 0, "items": [item],
        }), pin_pepper=PIN_PEPPER)


def test_a_void_is_refused_once_the_customer_has_used_the_spins_it_earned(bayo, friend, db):
    """Even when the wheel gave spins back: the one the purchase earned was spun."""
    wheel_of(db, {"label": "Extra spin", "type": "extra_spin", "weight": 1})
    log(bayo)
    friend.send("SPIN")  # the day's free spin: wins a spin
    friend.send("SPIN")  # the purchase's spin, the earliest given: wins another
    before = standing(db, FRIEND)
    assert before["spins"] == 2
    assert void(bayo) == "Can't void: the customer has already used the wheel spins it earned. Nothing was changed."
    assert standing(db, FRIEND) == before
    with db.sessions() as session:
        assert session.scalars(select(Purchase.status)).one() == "completed"


def test_spins_are_used_earliest_first_so_an_older_spin_spun_does_not_stop_the_void(bayo, friend, db, app):
    wheel_of(db, {"label": "Nothing", "type": "nothing", "weight": 1})
    log(bayo, amount=1000)  # an earlier purchase's spin
    log(bayo, amount=1000)
    friend.send("SPIN")  # the free spin
    friend.send("SPIN")  # the earlier purchase's spin
    assert void(bayo).startswith("Voided.")  # the last purchase's spin was still there
    assert standing(db, FRIEND)["spins"] == 0
    assert ledger_is_clean(app)


def test_a_void_is_refused_once_the_referrer_has_spent_the_bonus(bayo, friend, phone, db):
    log(bayo)
    referrer = phone(REFERRER)
    assert "Redeem Free Zobo drink for 100 points?" in referrer.send("REDEEM 1").text
    assert "Your code for Free Zobo drink" in referrer.send("1").text  # the welcome and referral points
    assert void(bayo) == (
        "Can't void: the member who referred this customer has already spent the referral bonus it earned them. "
        "Nothing was changed."
    )
    assert standing(db, FRIEND)["purchases"] == 1


def test_a_void_is_refused_when_a_later_purchase_s_milestone_counted_it(bayo, ada, phone, db):
    """Without the first purchase the second would be the first again, and the next one would
    be paid the every-second-purchase milestone a second time."""
    rules = [{"type": "per_purchase", "points": 1}, {"type": "milestone", "points": 500, "every": 2}]
    with db.transaction() as session:
        load_tenant(session, tenant_file(tiers=TIERS, points_rules=rules, missions=[]), pin_pepper=PIN_PEPPER)
    phone(REFERRER).send("JOIN MAMA")
    log(bayo, REFERRER, 1000)
    assert "Their balance: 552 points." in log(ada, REFERRER, 1000)  # 50, then 1, then 1 + 500
    before = standing(db, REFERRER)
    assert void(bayo) == "Can't void: a later purchase of this customer earned a bonus that counted this one. Nothing was changed."
    assert standing(db, REFERRER) == before
    assert void(ada).startswith("Voided.")  # the milestone's own purchase may go, and then the first
    assert void(bayo).startswith("Voided.")


def test_a_mission_another_purchase_completed_goes_when_the_void_leaves_it_short(bayo, ada, phone, db, app):
    """Bayo's purchase was one of the three visits; Ada's third completed the mission. Without
    Bayo's, two visits are left: the mission and its 100 points go with it."""
    log(bayo, REFERRER, 1000)
    before = standing(db, REFERRER)
    log(ada, REFERRER, 1000)
    log(ada, REFERRER, 1000)
    assert standing(db, REFERRER)["missions"] == ["Visit 3 times this month"]
    assert void(bayo).startswith("Voided.")
    after = standing(db, REFERRER)
    assert after["missions"] == [] and after["balance"] == before["balance"] - 30 + 10 + 10  # the visits' points only
    assert "Visit 3 times this month\n▓▓▓▓▓▓░░░░ 2/3 - 100 points" in phone(REFERRER).send("MISSIONS").text
    assert ledger_is_clean(app)


def test_the_purchase_that_completed_a_mission_another_void_took_back_can_still_be_voided(bayo, ada, db, app):
    log(bayo, REFERRER, 1000)
    log(ada, REFERRER, 1000)
    before = standing(db, REFERRER)
    log(ada, REFERRER, 1000)  # completes the mission
    assert void(bayo).startswith("Voided.")  # the mission goes with the first visit
    assert void(ada).startswith("Voided.")  # its own points only: the mission's are gone already
    after = standing(db, REFERRER)
    assert (after["balance"], after["missions"]) == (before["balance"] - 30, [])  # the second visit's points are left
    assert ledger_is_clean(app)


def test_a_void_is_refused_once_the_customer_has_spent_the_points_of_a_mission_it_helped_complete(bayo, ada, phone, db):
    """Bayo's small purchase earned no points of its own, but counted as a visit."""
    log(ada, REFERRER, 1000)
    log(bayo, REFERRER, 50)
    log(ada, REFERRER, 1000)
    member = phone(REFERRER)
    member.send("REDEEM 1")
    assert "Your code for Free Zobo drink" in member.send("1").text  # 50 + 30 + 10, and 10 of the mission's 100
    before = standing(db, REFERRER)
    assert void(bayo) == "Can't void: the customer has already spent those points."
    assert standing(db, REFERRER) == before
    with db.sessions() as session:
        assert session.scalars(select(Purchase.status)).all() == ["completed"] * 3


def snapshot(db) -> dict[str, dict]:
    """Every row of every table, by primary key, without what moves with any message."""
    volatile = {"updated_at", "conversation_state", "last_inbound_at"}
    tables = {}
    with db.sessions() as session:
        for table in Base.metadata.sorted_tables:
            key = [column.name for column in table.primary_key.columns]
            tables[table.name] = {
                tuple(row[k] for k in key): {k: v for k, v in row.items() if k not in volatile}
                for row in session.execute(table.select()).mappings()
            }
    return tables


def test_every_effect_of_a_purchase_is_one_the_void_knows_and_takes_back(bayo, friend, db):
    """A purchase that does everything (spin, referral bonuses, a mission for each, a tier).
    Every row it adds or changes is in a table of voids.EFFECTS and names the purchase, or is
    its record (voids.RECORDS); after the void, every table but the append-only ledgers and
    the records is exactly as before, and what the ledgers gained names the purchase. A new
    effect of a purchase that the void does not know fails here."""
    effect_tables = {effect.model.__tablename__ for effect in voids.EFFECTS}
    records = {model.__tablename__ for model in voids.RECORDS}
    ledgers = {"points_transactions", "spin_credits", "points_lot_allocations"}
    before = snapshot(db)
    log(bayo)
    logged = snapshot(db)
    with db.sessions() as session:
        purchase_id = session.scalars(select(Purchase.id)).one()
    touched = {name for name in logged if logged[name] != before[name]}
    assert touched - records == {"customers", "customer_points_balance"} | effect_tables  # all four effects happened
    for name in effect_tables:
        changed = [row for key, row in logged[name].items() if before[name].get(key) != row]
        assert changed and all(row["purchase_id"] == purchase_id for row in changed), name

    void(bayo)
    voided = snapshot(db)
    for name in set(voided) - ledgers - records:
        assert voided[name] == before[name], name
    for name in ledgers:
        assert all(voided[name][key] == row for key, row in before[name].items()), name
    new_entries = {key: row for key, row in voided["points_transactions"].items() if key not in before["points_transactions"]}
    new_spins = [row for key, row in voided["spin_credits"].items() if key not in before["spin_credits"]]
    assert all(row["purchase_id"] == purchase_id for row in [*new_entries.values(), *new_spins])
    with db.sessions() as session:
        allocated_to = set(session.scalars(select(PointsLotAllocation.debit_id)))
    reversals = {key[1] for key, row in new_entries.items() if row["transaction_type"] == "reversed"}
    assert len(reversals) == 2 and allocated_to == reversals  # one per customer; nothing else took lots

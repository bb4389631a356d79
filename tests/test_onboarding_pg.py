"""Setting up vendors by chat under real concurrency (PostgreSQL only)."""
from __future__ import annotations

from sqlalchemy import select

from models import PlatformMessage, Reward, Tenant, SetupInvitation, Staff
from tests.conftest import PLATFORM_NUMBER, Phone, at_once, count
from tests.test_onboarding import ANSWERS, OWNER, answer, invite


def test_a_confirmation_retried_while_it_runs_creates_one_vendor(app, db):
    owners = [Phone(app, OWNER, to=PLATFORM_NUMBER) for _ in range(8)]
    answer(owners[0], f"SETUP {invite(app)}", *ANSWERS)
    results = at_once([lambda phone=phone: phone.send("1", sid="SMconfirm") for phone in owners])
    assert {result.text for result in results} == {results[0].text}
    assert "*Ada's Salon* is ready!" in results[0].text
    assert count(db, Tenant) == 1 and count(db, Staff) == 1 and count(db, Reward) == 1
    assert count(db, PlatformMessage, PlatformMessage.message_sid == "SMconfirm") == 1


def test_two_owners_racing_for_one_code_get_one_each(app, db):
    second_owner = "+2348051112244"
    owners = [Phone(app, OWNER, to=PLATFORM_NUMBER), Phone(app, second_owner, to=PLATFORM_NUMBER)]
    for owner, number in zip(owners, (OWNER, second_owner)):
        summary = answer(owner, f"SETUP {invite(app, number)}", *ANSWERS)
        assert "Code: ADAS\n" in summary.text
    results = at_once([lambda owner=owner: owner.send("1") for owner in owners])
    ready = [result for result in results if "is ready!" in result.text]
    assert len(ready) == 1
    (loser,) = [result for result in results if result is not ready[0]]
    assert loser.text.startswith("Sorry, another shop has just taken the code ADAS.")
    loser_phone = owners[results.index(loser)]
    assert "Code: ADASSALON" in loser_phone.send("1").text
    assert "is ready!" in loser_phone.send("1").text
    with db.sessions() as session:
        assert sorted(session.scalars(select(Tenant.vendor_code))) == ["ADAS", "ADASSALON"]
        owners_of = session.execute(select(Staff.phone_number, Staff.tenant_id)).all()
        used = session.scalars(select(SetupInvitation.tenant_id)).all()
    assert len({tenant for _, tenant in owners_of}) == 2 and {phone for phone, _ in owners_of} == {OWNER, second_owner}
    assert None not in used

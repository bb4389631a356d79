"""Broadcasts: the definition file, preview counts, launch and the frozen audience, the lifecycle,
quiet hours and send_at, auto-pause, STOP during a broadcast, stats, follow-ups, the commands.
Sends go through the delivery engine to a local fake of Twilio's REST API (or the console
sender). The races and the crash proofs with real workers are in test_broadcasts_pg.py."""
from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.catalog import render
from bot.locales import NBSP
from bot.messages import say
from bot.pacing import Pacer
from bot.quiet_hours import quiet_until
from bot.services import broadcasts, delivery, points
from bot.services.broadcast_file import BroadcastFileError, parse
from bot.services.broadcasts import BroadcastService
from bot.services.context import Context
from bot.services.customers import enroll
from bot.services.tenants import load_tenant
from models import (
    AuditLog, Broadcast, BroadcastRecipient, Customer, PointsTransaction, Purchase, Reward, RewardRedemption, Tenant, Message,
)
from models.base import utcnow
from tests.conftest import count, run_jobs, tenant_file
from tests.test_outbound import post_status
from workers import outbound as outbound_worker
from workers.broadcasts import Allowance, advance_broadcasts, run_broadcast

ACCOUNT_SID = "AC" + "0" * 32
TEMPLATE_SID = "HX" + "2" * 32
LAGOS = ZoneInfo("Africa/Lagos")
TIERS = [{"name": "Silver", "min_points": 0}, {"name": "Gold", "min_points": 500}]
TOKEN = uuid.uuid4()  # a runner's lease, for tests that take the runner's steps themselves


def broadcasts_at(session, tenant: Tenant) -> BroadcastService:
    """The broadcasts service as the command line has it: the system acting at `tenant`."""
    return BroadcastService(Context.at(session, tenant, utcnow()))


@pytest.fixture
def twilio_app(make_app, fake):
    return make_app(twilio_account_sid=ACCOUNT_SID, twilio_api_base=fake.url, outbox_lease_seconds=8)


def load_mama(db, **changes) -> Tenant:
    with db.transaction() as session:
        return load_tenant(session, tenant_file(**{"messages_per_second": 0, "tiers": TIERS, **changes})).tenant


@pytest.fixture
def mama(db) -> Tenant:
    return load_mama(db)


def add_member(db, tenant, phone: str, *, name: str | None = "Ada Obi", points_earned: int = 0, tier: str | None = None,
               wrote_hours_ago: float | None = 1, channel: str = "whatsapp", joined_days_ago: float = 30,
               bought_days_ago: float | None = None, spent: int = 0, opted_in: bool = True, unreachable: bool = False):
    """A member enrolled through the service (with the welcome bonus), with some history."""
    now = utcnow()
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant.id)
        customer = enroll(session, tenant, phone, now, profile_name=name, consent=True).customer
        if points_earned:
            points.credit(session, tenant, customer, points_earned, source="test", description="test", now=now)
        customer.tier, customer.opted_in, customer.total_spent = tier, opted_in, spent
        customer.created_at = now - timedelta(days=joined_days_ago)
        customer.last_purchase_at = now - timedelta(days=bought_days_ago) if bought_days_ago is not None else None
        if wrote_hours_ago is not None:
            wrote_at = now - timedelta(hours=wrote_hours_ago)
            customer.last_inbound_at = wrote_at
            session.add(Message(
                tenant_id=tenant.id, customer_id=customer.id, direction="inbound", channel=channel, status="received",
                from_number=phone, to_number=tenant.whatsapp_number, body="HI", created_at=wrote_at))
        if unreachable:
            customer.unreachable_at, customer.unreachable_code = now, "21211"
        return customer.id


def definition(tenant="MAMA", **changes) -> dict:
    return {"tenant": tenant, "name": "Friday double points",
            "text": "Hi {first_name}! Double points at {vendor} this Friday. You have {points} points.", **changes}


def parsed(db, tenant, raw):
    with db.sessions() as session:
        return parse(session, raw, session.get(Tenant, tenant.id), utcnow())


def errors_of(db, tenant, raw) -> dict:
    with pytest.raises(BroadcastFileError) as raised:
        parsed(db, tenant, raw)
    return raised.value.messages


def create(db, tenant, **changes) -> Broadcast:
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant.id)
        return broadcasts_at(session, tenant).create(parse(session, definition(**changes), tenant, utcnow()))


def launch(app, broadcast):
    """Launch as the command does: the move in its transaction, then a runner."""
    with app.extensions["runtime"].db.transaction() as session:
        moved = broadcasts_at(session, session.get(Tenant, broadcast.tenant_id)).move(broadcast.id, "launch")
    hand(app, moved)
    return moved


def hand(app, moved) -> None:
    """Hand a move to a runner, which runs inline without Redis; with it, the jobs run here."""
    with app.app_context():
        app.extensions["runtime"].start_runners([moved])
    run_jobs(app)


def run(app, broadcast) -> None:
    """A runner for a launched broadcast, as the scheduled job would start."""
    with app.app_context():
        app.extensions["runtime"].run_broadcast(broadcast.tenant_id, broadcast.id)
    run_jobs(app)


def tick(app) -> dict:
    with app.app_context():
        result = advance_broadcasts()
    run_jobs(app)
    return result


def stats(db, broadcast) -> dict:
    with db.sessions() as session:
        return broadcasts_at(session, session.get(Tenant, broadcast.tenant_id)).stats(broadcast.id).as_json()


def status_of(db, broadcast) -> str:
    with db.sessions() as session:
        return session.get(Broadcast, (broadcast.tenant_id, broadcast.id)).status


def pushes(db, broadcast) -> list[Message]:
    with db.sessions() as session:
        return list(session.scalars(select(Message).where(Message.broadcast_id == broadcast.id)))


def adds_up(result: dict) -> bool:
    return result["targeted"] == result["sent"] + result["failed"] + result["skipped"] + result["queued"]


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["broadcasts", *args])


def write(tmp_path, raw: dict):
    path = tmp_path / "broadcast.json"
    path.write_text(json.dumps(raw))
    return str(path)


# The definition file


def test_the_issues_example_file_is_valid(db):
    tenant = load_mama(db, templates={})
    raw = {
        "tenant": "MAMA", "name": "Friday double points",
        "text": "Hi {first_name}! Double points at {vendor} this Friday. You have {points} points.",
        "template": {"content_sid": TEMPLATE_SID, "variables": ["first_name", "points"]},
        "media_url": None,
        "segment": {"tiers": ["Gold"], "min_points": 100, "max_points": None, "inactive_days": None,
                    "active_within_days": 30, "joined_within_days": None, "min_spent": None,
                    "spent_within_days": None, "phones": None},
        "send_at": "2099-12-04T09:00", "quiet_hours": ["21:00", "08:00"], "messages_per_second": None,
    }
    result = parsed(db, tenant, raw)
    assert result.segment == {"tiers": ["Gold"], "min_points": 100, "active_within_days": 30}
    assert result.send_at == datetime(2099, 12, 4, 8, 0, tzinfo=timezone.utc)  # 09:00 in Lagos
    assert result.quiet_hours == ("21:00", "08:00")


@pytest.mark.parametrize("changes, field, words", [
    ({"text": "Hi {firstname}!"}, "text", "unknown variable {firstname}"),
    ({"text": "Hi {first_name!r}"}, "text", "without a format"),
    ({"text": "50% off {"}, "text", "opens no variable"),
    ({"template": {"content_sid": TEMPLATE_SID, "variables": ["balance"]}}, "template", "unknown variable"),
    ({"template": {"content_sid": "HX123"}}, "template", "Content SID"),
    ({"segment": {"tiers": ["Platinum"]}}, "segment", "no tier named Platinum"),
    ({"segment": {"phones": ["0803 123 4567", "12"]}}, "segment", "not a phone number in NG: 12"),
    ({"segment": {"min_points": 10, "max_points": 5}}, "segment", "must not be below min_points"),
    ({"segment": {"spent_within_days": 30}}, "segment", "needs min_spent"),
    ({"segment": {"inactive_days": 30, "active_within_days": 7}}, "segment", "must be more than inactive_days"),
    ({"segment": {"colour": "red"}}, "segment", "Unknown field"),
    ({"send_at": "2020-01-01T09:00"}, "send_at", "is in the past"),
    ({"send_at": "next friday"}, "send_at", "must be a time"),
    ({"send_at": "0001-01-01T00:00"}, "send_at", "must be in the years 2000 to 2999"),
    ({"send_at": "9999-12-31T23:59-05:00"}, "send_at", "must be in the years 2000 to 2999"),
    ({"segment": {"min_points": 10**30}}, "segment", "less than or equal to"),
    ({"segment": {"min_spent": "1e100000"}}, "segment", "less than or equal to"),
    ({"name": "Promo\u0000"}, "name", "control characters"),
    ({"text": "Hi\u0000 {first_name}"}, "text", "control characters"),
    ({"quiet_hours": ["21:00"]}, "quiet_hours", "must be two times"),
    ({"quiet_hours": ["25:00", "08:00"]}, "quiet_hours", "must be a time like 21:00"),
    ({"quiet_hours": ["2100Z", "08:00"]}, "quiet_hours", "must be a time like 21:00"),
    ({"messages_per_second": 0}, "messages_per_second", "greater than or equal to 1"),
    ({"tenant": "ZOBO"}, "tenant", "names ZOBO, not MAMA"),
    ({"sender": "me"}, "sender", "Unknown field"),
])
def test_an_invalid_file_names_the_field(mama, db, changes, field, words):
    messages = errors_of(db, mama, definition(**changes))
    assert field in messages and words in json.dumps(messages[field])


def test_reward_variables_need_a_reward(db):
    tenant = load_mama(db, rewards=[], wheel=None)
    messages = errors_of(db, tenant, definition(text="{points_to_nearest_reward} more for {nearest_reward}"))
    assert "need a reward" in messages["text"][0]


def test_a_text_whose_push_can_outgrow_a_message_is_refused_saying_by_how_much(mama, db):
    """A push is the text with the member's variables, a line break and the opt-out line (45
    characters in French), and Twilio takes 1,600: {name} may be 255 characters long."""
    messages = errors_of(db, mama, definition(text="Hi {name}! " + "x" * 1480))
    assert messages["text"] == [
        "can make a message of 1,786 characters with its variables at their longest ({name} up to 255) "
        "and the opt-out line, and a message takes 1,600: shorten it by 186"
    ]
    assert parsed(db, mama, definition(text="Hi {name}! " + "x" * 1294)).text.endswith("x")
    assert "1554" in json.dumps(errors_of(db, mama, definition(text="x" * 1555))["text"])  # no variables: the text alone


def test_create_from_an_invalid_file_writes_nothing_and_says_why(app, mama, db, tmp_path):
    result = cli(app, "create", write(tmp_path, definition(text="Hi {first_nme}")))
    assert result.exit_code == 1
    assert "text: unknown variable {first_nme}" in result.output
    assert count(db, Broadcast) == 0 and count(db, AuditLog, AuditLog.action == "broadcast.created") == 0


def test_a_broadcast_file_that_is_not_utf8_is_refused_and_one_with_a_bom_is_read(app, mama, db, tmp_path):
    path = Path(write(tmp_path, definition()))
    text = path.read_bytes()
    path.write_bytes(text.decode("utf-8").encode("utf-16"))
    refused = cli(app, "preview", str(path))
    assert refused.exit_code == 1 and "not UTF-8 text" in refused.output
    path.write_bytes(b"\xef\xbb\xbf" + text)
    assert cli(app, "create", str(path)).exit_code == 0
    assert count(db, Broadcast) == 1


def test_a_file_naming_no_known_vendor_is_refused(app, mama, db, tmp_path):
    result = cli(app, "preview", write(tmp_path, definition(tenant="ZOBO")))
    assert result.exit_code == 1 and "tenant: no vendor with code ZOBO" in result.output


# Preview


def test_preview_counts_exactly_and_renders_three_samples(app, mama, db, tmp_path):
    for i in range(4):
        add_member(db, mama, f"+23480300000{i:02d}", name=f"Member{i} Obi", points_earned=600, tier="Gold")
    add_member(db, mama, "+2348030000100", points_earned=600, tier="Gold", opted_in=False)
    add_member(db, mama, "+2348030000101", points_earned=600, tier="Gold", wrote_hours_ago=30)  # window closed
    add_member(db, mama, "+2348030000102", points_earned=600, tier="Gold", wrote_hours_ago=None)  # never wrote
    add_member(db, mama, "+2348030000103", points_earned=600, tier="Gold", unreachable=True)
    capped = add_member(db, mama, "+2348030000104", points_earned=600, tier="Gold")
    add_member(db, mama, "+2348030000105", points_earned=100, tier="Silver")  # not in the segment
    add_member(db, mama, "+2348030000106", points_earned=10, tier="Gold")  # 60 lifetime points: Silver, whatever is stored
    marketing_pushes(db, mama, capped, 2)
    result = cli(app, "preview", "--json", write(tmp_path, definition(segment={"tiers": ["Gold"], "min_points": 100})))
    assert result.exit_code == 0, result.output
    preview = json.loads(result.output)
    assert {key: preview[key] for key in ("matched", "suppressed", "recipients")} == {
        "matched": 9,
        "suppressed": {"opted_out": 1, "frequency_cap": 1, "outside_window": 2, "unreachable": 1},
        "recipients": 4,
    }
    assert len(preview["samples"]) == 3
    phones = {f"+23480300000{i:02d}" for i in range(4)}
    for sample in preview["samples"]:
        assert sample["phone"] in phones
        number = int(sample["phone"][-2:])
        assert sample["text"] == (f"Hi Member{number}! Double points at Mama Put Kitchen this Friday. You have 650 points.\n"
                                  "Reply STOP for no more offers.")


def test_with_a_template_nobody_is_outside_the_window_but_the_unreachable_still_are(mama, db):
    add_member(db, mama, "+2348030000001")
    add_member(db, mama, "+2348030000002", wrote_hours_ago=40)
    add_member(db, mama, "+2348030000003", unreachable=True, wrote_hours_ago=40)
    with db.sessions() as session:
        tenant = session.get(Tenant, mama.id)
        result = broadcasts_at(session, tenant).preview(parse(session, definition(
            template={"content_sid": TEMPLATE_SID, "variables": ["first_name"]}), tenant, utcnow()))
    assert (result.matched, result.recipients, result.suppressed["outside_window"], result.suppressed["unreachable"]) == (3, 2, 0, 1)


def test_a_member_who_writes_by_sms_is_inside_no_window_when_the_vendor_has_an_sms_number(db):
    tenant = load_mama(db, sms_number="+14155550000")
    add_member(db, tenant, "+2348030000001", channel="sms", wrote_hours_ago=100)
    add_member(db, tenant, "+2348030000002", channel="whatsapp", wrote_hours_ago=100)
    with db.sessions() as session:
        result = broadcasts_at(session, tenant).preview(parsed(db, tenant, definition()))
    assert (result.recipients, result.suppressed["outside_window"]) == (1, 1)


@pytest.mark.parametrize("segment, expected", [
    ({}, {"new", "lapsed", "loyal", "big"}),
    ({"inactive_days": 30}, {"lapsed"}),
    ({"active_within_days": 7}, {"new", "loyal", "big"}),
    ({"active_within_days": 90, "inactive_days": 30}, {"lapsed"}),
    ({"joined_within_days": 10}, {"new"}),
    ({"min_spent": 500}, {"big"}),  # naira; stored in kobo
    ({"min_spent": 100, "spent_within_days": 7}, {"loyal"}),
    ({"phones": ["0803 000 0001", "+2348030000004"]}, {"new", "big"}),
])
def test_segments_select_whom_they_say(mama, db, segment, expected):
    ids = {
        "new": add_member(db, mama, "+2348030000001", joined_days_ago=2, wrote_hours_ago=2),
        "lapsed": add_member(db, mama, "+2348030000002", joined_days_ago=200, bought_days_ago=60, wrote_hours_ago=24 * 60),
        "loyal": add_member(db, mama, "+2348030000003", joined_days_ago=200, bought_days_ago=1, spent=20_000),
        "big": add_member(db, mama, "+2348030000004", joined_days_ago=200, bought_days_ago=40, spent=60_000),
    }
    with db.transaction() as session:  # the loyal member's recent purchase, the big spender's old one
        for name, amount, days in (("loyal", 20_000, 1), ("big", 60_000, 40)):
            session.add(Purchase(tenant_id=mama.id, customer_id=ids[name], amount=amount, currency="NGN",
                                 created_at=utcnow() - timedelta(days=days)))
    template = {"content_sid": TEMPLATE_SID, "variables": []}  # the window aside
    with db.sessions() as session:
        query = broadcasts.audience(mama, parsed(db, mama, definition(segment=segment, template=template)), utcnow()).subquery()
        matched = set(session.scalars(select(query.c.customer_id)))
    assert matched == {ids[name] for name in expected}


@pytest.mark.parametrize("tiers, expected", [
    (["Silver"], {"new", "silver"}),
    (["Gold"], {"gold", "spent"}),
    (["Silver", "Gold"], {"new", "silver", "gold", "spent"}),
])
def test_the_tiers_segment_is_the_tier_the_lifetime_points_reach(mama, db, tiers, expected):
    """As the points rules reckon a tier (from lifetime points), not the tier stored by the last
    purchase: a new member's 50 welcome points are Silver (from 0), 500 earned are Gold, spent or not."""
    ids = {
        "new": add_member(db, mama, "+2348030000001"),
        "silver": add_member(db, mama, "+2348030000002", points_earned=449, tier="Gold"),
        "gold": add_member(db, mama, "+2348030000003", points_earned=450, tier="Silver"),
    }
    ids["spent"] = add_member(db, mama, "+2348030000004", points_earned=600)
    with db.transaction() as session:
        points.debit(session, session.get(Customer, (mama.id, ids["spent"])), 600, transaction_type="redeemed",
                     source="reward", description="Jollof rice plate", now=utcnow())
    with db.sessions() as session:
        query = broadcasts.audience(mama, parsed(db, mama, definition(segment={"tiers": tiers})), utcnow()).subquery()
        matched = set(session.scalars(select(query.c.customer_id)))
    assert matched == {ids[name] for name in expected}


def test_points_past_their_expiry_count_for_nothing_before_the_hourly_job_takes_them(mama, db):
    """The balance row still says 450 until the expiry job runs: the segment and {points} read
    what can be spent, as BAL and PROGRAMS do."""
    add_member(db, mama, "+2348030000001", points_earned=400)
    with db.transaction() as session:
        session.execute(update(PointsTransaction).values(expires_at=utcnow() - timedelta(hours=1)))
    definitions = [parsed(db, mama, definition(segment=segment)) for segment in ({"min_points": 100}, {"max_points": 10})]
    with db.sessions() as session:
        rich, poor = (broadcasts_at(session, mama).preview(each) for each in definitions)
    assert (rich.matched, poor.matched) == (0, 1)
    assert poor.samples[0]["text"].startswith("Hi Ada! Double points at Mama Put Kitchen this Friday. You have 0 points.")


# Launch, exactly once


def test_launch_freezes_the_audience_and_each_recipient_gets_one_push(twilio_app, mama, db, fake):
    members = [add_member(db, mama, f"+23480300000{i:02d}") for i in range(5)]
    add_member(db, mama, "+2348030000100", opted_in=False)
    broadcast = create(db, mama)
    moved = launch(twilio_app, broadcast)
    assert moved.moved and moved.broadcast.total_recipients == 5
    with db.sessions() as session:
        frozen = set(session.scalars(select(BroadcastRecipient.customer_id)))
    assert frozen == set(members)
    assert sorted(m["to"] for m in fake.messages.values()) == sorted(f"whatsapp:+23480300000{i:02d}" for i in range(5))
    assert fake.stats()["duplicates"] == 0
    assert status_of(db, broadcast) == "completed"
    again = launch(twilio_app, broadcast)
    assert not again.moved and fake.stats()["accepted"] == 5 and count(db, BroadcastRecipient) == 5
    result = stats(db, broadcast)
    assert (result["targeted"], result["sent"], result["queued"]) == (5, 5, 0) and adds_up(result)


def test_a_member_who_joins_after_the_launch_is_not_added(app, mama, db):
    add_member(db, mama, "+2348030000001")
    broadcast = create(db, mama)
    with db.transaction() as session:
        broadcasts_at(session, session.get(Tenant, mama.id)).move(broadcast.id, "launch")  # frozen, no runner yet
    add_member(db, mama, "+2348030000002")
    run(app, broadcast)
    assert [m.to_number for m in pushes(db, broadcast)] == ["+2348030000001"]


def test_the_push_says_the_text_with_each_members_variables(app, db):
    tenant = load_mama(db)
    member = add_member(db, tenant, "+2348030000001", name="  Chidi   Okafor ", points_earned=30)
    nameless = add_member(db, tenant, "+2348030000002", name=None, points_earned=1000)
    broadcast = create(db, tenant, text="{first_name}/{name}/{points}/{vendor}/{member_code}/{nearest_reward}/{points_to_nearest_reward}")
    launch(app, broadcast)
    with db.sessions() as session:
        codes = dict(session.execute(select(Customer.id, Customer.member_code)).all())
    bodies = {m.customer_id: m.body.split("\n")[0] for m in pushes(db, broadcast)}
    # 80 points: 20 short of the 100-point drink; 1,050: both rewards in reach, the dearer named.
    assert bodies[member] == f"Chidi/Chidi Okafor/80/Mama Put Kitchen/{codes[member]}/Free Zobo drink/20"
    assert bodies[nameless] == f"there/there/1,050/Mama Put Kitchen/{codes[nameless]}/Jollof rice plate/0"


def test_outside_the_window_the_broadcasts_own_template_goes_with_its_variables(twilio_app, mama, db, fake):
    add_member(db, mama, "+2348030000001", name="Ada Obi", points_earned=150)
    broadcast = create(db, mama, template={"content_sid": TEMPLATE_SID, "variables": ["first_name", "points"]})
    with db.transaction() as session:  # the window closes between launch and send
        session.execute(update(Message).where(Message.direction == "inbound")
                        .values(created_at=utcnow() - timedelta(hours=30)))
    launch(twilio_app, broadcast)
    [sent] = fake.messages.values()
    assert sent["body"] == f'(template {TEMPLATE_SID} {json.dumps({"1": "Ada", "2": "200"})})'
    [push] = pushes(db, broadcast)
    assert (push.status, push.content_sid) == ("sent", TEMPLATE_SID)


def test_a_window_closed_after_the_launch_without_a_template_is_skipped_and_counted(twilio_app, mama, db, fake):
    add_member(db, mama, "+2348030000001")
    add_member(db, mama, "+2348030000002", wrote_hours_ago=23.99)
    broadcast = create(db, mama)
    with db.transaction() as session:
        broadcasts_at(session, session.get(Tenant, mama.id)).move(broadcast.id, "launch")
    with db.transaction() as session:  # a day passes: the second member's window has closed
        session.execute(update(Message).where(Message.from_number == "+2348030000002")
                        .values(created_at=utcnow() - timedelta(hours=25)))
    run(twilio_app, broadcast)
    result = stats(db, broadcast)
    assert (result["sent"], result["skipped_by_reason"], result["status"]) == (1, {"no_template": 1}, "completed")
    assert adds_up(result) and fake.stats()["accepted"] == 1


def test_a_push_longer_than_a_message_is_skipped_saying_so_and_never_sent(twilio_app, mama, db, fake):
    """A broadcast made before its text was measured with its variables at their longest: the
    member with a 100-character name would get 1,616 characters, which Twilio refuses."""
    add_member(db, mama, "+2348030000001", name="N" * 100)
    add_member(db, mama, "+2348030000002", name="Ada")
    broadcast = create(db, mama)
    with db.transaction() as session:
        session.execute(update(Broadcast).where(Broadcast.id == broadcast.id).values(text="Hi {name}! " + "x" * 1480))
    launch(twilio_app, broadcast)
    result = stats(db, broadcast)
    assert (result["sent"], result["skipped_by_reason"], result["status"]) == (1, {"too_long": 1}, "completed")
    [sent] = fake.messages.values()
    assert sent["body"].startswith("Hi Ada! xxx") and sent["to"].endswith("+2348030000002")


# send_at and quiet hours


def test_send_at_is_the_vendors_time_and_the_scheduled_job_starts_it_once(app, mama, db, clock):
    add_member(db, mama, "+2348030000001")
    local = (utcnow() + timedelta(hours=2)).astimezone(LAGOS)
    broadcast = create(db, mama, send_at=f"{local:%Y-%m-%dT%H:%M}")
    assert broadcast.send_at == local.replace(second=0, microsecond=0).astimezone(timezone.utc)
    moved = launch(app, broadcast)
    assert moved.broadcast.status == "scheduled" and count(db, BroadcastRecipient) == 0
    assert tick(app)["started"] == 0  # not yet
    clock.advance(hours=2)  # its time comes
    assert tick(app)["started"] == 1
    assert tick(app)["started"] == 0
    assert status_of(db, broadcast) == "completed" and len(pushes(db, broadcast)) == 1


def test_quiet_hours_hold_the_sends_until_they_end(app, mama, db):
    add_member(db, mama, "+2348030000001")
    now = utcnow()
    local = now.astimezone(LAGOS)
    quiet = [f"{(local - timedelta(hours=1)):%H:%M}", f"{(local + timedelta(hours=1)):%H:%M}"]  # we are in them
    broadcast = create(db, mama, quiet_hours=quiet)
    launch(app, broadcast)
    assert status_of(db, broadcast) == "sending" and pushes(db, broadcast) == []
    assert quiet_until(quiet, LAGOS, now) == (local + timedelta(hours=1)).replace(second=0, microsecond=0).astimezone(timezone.utc)
    with db.transaction() as session:  # the quiet hours are over
        session.execute(update(Broadcast).values(quiet_hours=[f"{(local - timedelta(hours=3)):%H:%M}",
                                                              f"{(local - timedelta(hours=2)):%H:%M}"]))
    tick(app)
    assert [m.status for m in pushes(db, broadcast)] == ["sent"] and status_of(db, broadcast) == "completed"


def test_quiet_hours_stored_with_an_offset_are_read_on_the_vendors_clocks(app, mama, db):
    """Quiet hours like "2100Z" or "21+01" passed validation before it refused an offset: a
    broadcast stored with them reads their times on the vendor's clocks, the offset left out,
    where every runner turn failed comparing them with the local time."""
    add_member(db, mama, "+2348030000001")
    local = utcnow().astimezone(LAGOS)
    broadcast = create(db, mama)

    def quiet(start: datetime, end: datetime) -> None:
        with db.transaction() as session:
            session.execute(update(Broadcast).values(quiet_hours=[f"{start:%H%M}Z", f"{end:%H}+01"]))

    quiet(local - timedelta(hours=1), local + timedelta(hours=1))  # we are in them
    launch(app, broadcast)
    assert status_of(db, broadcast) == "sending" and pushes(db, broadcast) == []
    quiet(local - timedelta(hours=3), local - timedelta(hours=2))  # they are over
    tick(app)
    assert [m.status for m in pushes(db, broadcast)] == ["sent"] and status_of(db, broadcast) == "completed"


def test_pushes_fed_just_before_the_quiet_hours_wait_when_a_worker_claims_them_inside(app, mama, db):
    """The runner fed them at 20:59:59; a worker reaches them at 21:01: they go back to wait
    until the quiet hours end, as the runner holds those it has not handed over."""
    add_member(db, mama, "+2348030000001")
    broadcast = create(db, mama, quiet_hours=["21:00", "08:00"])
    evening = utcnow().astimezone(LAGOS).replace(hour=20, minute=59, second=59, microsecond=0)
    key, lease = (mama.id, broadcast.id), timedelta(seconds=60)
    with db.transaction() as session:
        broadcasts_at(session, session.get(Tenant, mama.id)).move(broadcast.id, "launch")
        broadcasts.take_runner(session, key, TOKEN, evening, lease)
    with db.transaction() as session:
        outbox = broadcasts.step(session, key, TOKEN, evening, lease, 500).outbox
    with db.transaction() as session:
        claimed = delivery.claim(session, outbox, evening + timedelta(minutes=1, seconds=1), lease)
    assert claimed[:2] == ([], [])
    [push] = pushes(db, broadcast)
    assert (push.status, push.not_before) == ("queued", evening + timedelta(hours=11, seconds=1))  # 08:00


@pytest.mark.parametrize("clock, quiet, until", [
    ("22:30", ["21:00", "08:00"], "08:00 next day"),
    ("07:59", ["21:00", "08:00"], "08:00"),
    ("08:00", ["21:00", "08:00"], None),
    ("20:59", ["21:00", "08:00"], None),
    ("13:30", ["13:00", "14:00"], "14:00"),
    ("14:00", ["13:00", "14:00"], None),
])
def test_quiet_hours_run_over_midnight_or_not(clock, quiet, until):
    hour, minute = map(int, clock.split(":"))
    now = datetime(2026, 12, 4, hour, minute, tzinfo=LAGOS).astimezone(timezone.utc)
    result = quiet_until(quiet, LAGOS, now)
    if until is None:
        assert result is None
    else:
        day = 5 if "next day" in until else 4
        end_hour, end_minute = map(int, until.split(" ")[0].split(":"))
        assert result == datetime(2026, 12, day, end_hour, end_minute, tzinfo=LAGOS).astimezone(timezone.utc)


LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize("now, quiet, until", [
    # 25 Oct 2026: London's clocks go back at 02:00 BST (01:00 UTC) to 01:00 GMT; 01:00-02:00 comes twice
    ("2026-10-25T00:10", ["21:00", "01:30"], "2026-10-25T00:30"),  # 01:10 BST: until 01:30 BST
    ("2026-10-25T01:10", ["21:00", "01:30"], "2026-10-25T01:30"),  # 01:10 GMT, the second time: until 01:30 GMT
    ("2026-10-25T01:10", ["21:00", "08:00"], "2026-10-25T08:00"),
    # 29 Mar 2026: they go forward at 01:00 GMT to 02:00 BST; 01:00-02:00 never comes
    ("2026-03-29T00:30", ["21:00", "08:00"], "2026-03-29T07:00"),  # 00:30 GMT: until 08:00 BST
    ("2026-03-29T01:10", ["01:30", "03:00"], "2026-03-29T02:00"),  # 02:10 BST: until 03:00 BST
    ("2026-03-29T00:30", ["21:00", "01:30"], "2026-03-29T01:30"),  # 01:30 is skipped: until 02:30 BST, not earlier
])
def test_quiet_hours_end_when_the_vendors_clocks_say_across_a_change_of_the_clocks(now, quiet, until):
    utc = datetime.fromisoformat(now).replace(tzinfo=timezone.utc)
    assert quiet_until(quiet, LONDON, utc) == datetime.fromisoformat(until).replace(tzinfo=timezone.utc)


def test_a_broadcasts_own_rate_lets_the_runner_hand_over_that_many_a_second():
    allowance = Allowance(2)
    assert allowance.now() == 2
    allowance.spend(2)
    assert allowance.now() == 0
    time.sleep(0.6)
    assert allowance.now() in (1, 2)  # a second's worth at most, however long it waited
    allowance.spend(allowance.now())
    assert allowance.wait()  # none allowed: it slept until the next one
    assert not Allowance(2).wait()
    assert Allowance(None).now() == broadcasts.FEED_CHUNK and not Allowance(None).wait()


def test_a_runner_paced_by_the_broadcasts_own_rate_goes_on_until_all_are_sent(app, mama, db):
    """Right after a feed its rate allows none more: the runner waits for the next one rather
    than leaving the rest to the scheduled job, a minute later."""
    for i in range(5):
        add_member(db, mama, f"+23480300000{i:02d}")
    broadcast = create(db, mama, messages_per_second=2)
    launch(app, broadcast)
    result = stats(db, broadcast)
    assert (result["status"], result["sent"]) == ("completed", 5)


# The lifecycle


def fed_not_sent(app, broadcast, limit=500) -> None:
    """Launch and let the runner feed one turn, without the workers sending yet."""
    runtime = app.extensions["runtime"]
    with runtime.db.transaction() as session:
        tenant = session.get(Tenant, broadcast.tenant_id)
        broadcasts_at(session, tenant).move(broadcast.id, "launch")
        broadcasts.take_runner(session, (tenant.id, broadcast.id), TOKEN, utcnow(), timedelta(seconds=60))
    with runtime.db.transaction() as session:
        broadcasts.step(session, (broadcast.tenant_id, broadcast.id), TOKEN, utcnow(), timedelta(seconds=60), limit)



def move(db, verb, broadcast):
    with db.transaction() as session:
        return broadcasts_at(session, session.get(Tenant, broadcast.tenant_id)).move(broadcast.id, verb)


def test_pause_holds_what_is_queued_and_resume_sends_it_once(twilio_app, mama, db, fake):
    for i in range(4):
        add_member(db, mama, f"+23480300000{i:02d}")
    broadcast = create(db, mama)
    fed_not_sent(twilio_app, broadcast, limit=3)
    assert move(db, "pause", broadcast).moved
    assert not move(db, "pause", broadcast).moved  # pausing again changes nothing
    held = pushes(db, broadcast)
    assert len(held) == 3 and {m.not_before for m in held} == {broadcasts.HELD}
    twilio_app.extensions["runtime"].deliver([(m.tenant_id, m.id) for m in held])  # their jobs run: nothing goes
    run_jobs(twilio_app)
    with twilio_app.app_context():
        assert run_broadcast(str(mama.id), str(broadcast.id)) == "taken"  # and no runner starts
    assert fake.stats()["creates"] == 0
    result = stats(db, broadcast)
    assert (result["status"], result["queued"], result["pause_reason"]) == ("paused", 4, "paused by the vendor")
    moved = move(db, "resume", broadcast)
    hand(twilio_app, moved)
    assert status_of(db, broadcast) == "completed"
    assert fake.stats()["accepted"] == 4 and fake.stats()["duplicates"] == 0
    assert [a for (a,) in audit_actions(db)] == ["broadcast.created", "broadcast.sending", "broadcast.paused",
                                                 "broadcast.resumed", "broadcast.completed"]


def audit_actions(db):
    with db.sessions() as session:
        return session.execute(select(AuditLog.action).where(AuditLog.entity_type == "broadcast")
                               .order_by(AuditLog.created_at)).all()


def test_cancel_skips_what_is_queued_and_who_is_still_waiting(twilio_app, mama, db, fake):
    for i in range(5):
        add_member(db, mama, f"+23480300000{i:02d}")
    broadcast = create(db, mama)
    fed_not_sent(twilio_app, broadcast, limit=2)
    assert move(db, "cancel", broadcast).moved
    twilio_app.extensions["runtime"].deliver([(m.tenant_id, m.id) for m in pushes(db, broadcast)])
    run_jobs(twilio_app)
    assert fake.stats()["creates"] == 0
    result = stats(db, broadcast)
    assert (result["status"], result["skipped"], result["skipped_by_reason"]) == ("cancelled", 5, {"cancelled": 5})
    assert adds_up(result)
    with pytest.raises(broadcasts.BroadcastError, match="was cancelled"):
        move(db, "launch", broadcast)


@pytest.mark.parametrize("verb, status, words", [
    ("pause", "draft", "only a sending one can be paused"),
    ("resume", "draft", "only a paused one can be resumed"),
    ("cancel", "completed", "already completed"),
    ("pause", "completed", "only a sending one can be paused"),
])
def test_a_move_from_the_wrong_status_is_refused_and_changes_nothing(mama, db, verb, status, words):
    broadcast = create(db, mama)
    with db.transaction() as session:
        session.execute(update(Broadcast).values(status=status))
    with pytest.raises(broadcasts.BroadcastError, match=words):
        move(db, verb, broadcast)
    assert status_of(db, broadcast) == status


def test_too_many_failures_pause_it_with_the_reason_and_resume_goes_on(twilio_app, mama, db, fake, monkeypatch):
    monkeypatch.setattr(broadcasts, "FEED_CHUNK", 60)  # sixty at a time, and no more in flight
    monkeypatch.setattr(broadcasts, "IN_FLIGHT", 60)
    for i in range(100):
        add_member(db, mama, f"+234803000{i:04d}")
    fake.answer_next(60, status=400, code=21211, message="Invalid 'To' Phone Number")
    broadcast = create(db, mama)
    launch(twilio_app, broadcast)
    result = stats(db, broadcast)
    assert result["status"] == "paused"
    assert result["pause_reason"] == "auto-paused: 60 of the last 60 sends failed (21211 x60)"
    assert (result["failed"], result["failed_by_code"], result["queued"]) == (60, {"21211": 60}, 40) and adds_up(result)
    moved = move(db, "resume", broadcast)  # the failures before the resume no longer count
    hand(twilio_app, moved)
    result = stats(db, broadcast)
    assert (result["status"], result["sent"], result["failed"], result["pause_reason"]) == ("completed", 40, 60, None)


def test_failures_of_pushes_held_by_a_pause_and_sent_after_the_resume_count(twilio_app, mama, db, fake, monkeypatch):
    monkeypatch.setattr(broadcasts, "FEED_CHUNK", 60)
    monkeypatch.setattr(broadcasts, "IN_FLIGHT", 60)
    for i in range(100):
        add_member(db, mama, f"+234803000{i:04d}")
    broadcast = create(db, mama)
    fed_not_sent(twilio_app, broadcast, limit=60)  # sixty written, none sent
    move(db, "pause", broadcast)
    fake.answer_next(60, status=400, code=21211, message="Invalid 'To' Phone Number")
    hand(twilio_app, move(db, "resume", broadcast))
    result = stats(db, broadcast)
    assert (result["status"], result["failed"]) == ("paused", 60)
    assert result["pause_reason"] == "auto-paused: 60 of the last 60 sends failed (21211 x60)"


def test_reward_variables_with_the_catalog_emptied_since_pause_it_instead_of_a_blank(app, db):
    tenant = load_mama(db)
    add_member(db, tenant, "+2348030000001", points_earned=30)
    broadcast = create(db, tenant, text="Hi {first_name}, next: {nearest_reward} ({points_to_nearest_reward} to go)")
    with db.transaction() as session:
        session.execute(update(Reward).values(is_active=False))
    launch(app, broadcast)
    result = stats(db, broadcast)
    assert result["status"] == "paused" and pushes(db, broadcast) == []
    assert result["pause_reason"] == "paused: {nearest_reward} needs a reward in the catalog; add one, then resume"


def test_the_stop_line_and_there_are_in_the_vendors_language_for_a_member_who_chose_none(app, db):
    tenant = load_mama(db, language="fr")
    add_member(db, tenant, "+2348030000001", name=None)
    broadcast = create(db, tenant, text="Bonjour {first_name} !")
    launch(app, broadcast)
    [push] = pushes(db, broadcast)
    with app.app_context():
        stop_line = render(say("broadcast_stop_line"), "fr")
        there = render(say("broadcast_unnamed"), "fr")
    assert push.body == f"Bonjour {there} !\n{stop_line}" and "STOP" in stop_line and stop_line != render(say("broadcast_stop_line"), "en")


def test_points_are_grouped_the_members_language_s_way(app, db):
    tenant = load_mama(db, language="fr")
    add_member(db, tenant, "+2348030000001", points_earned=1450)  # 1,500 with the welcome bonus
    broadcast = create(db, tenant, text="Vous avez {points} points, {points_to_nearest_reward} de plus pour {nearest_reward}.")
    launch(app, broadcast)
    [push] = pushes(db, broadcast)
    assert push.body.split("\n")[0] == f"Vous avez 1{NBSP}500 points, 0 de plus pour Jollof rice plate."


def test_a_few_failures_do_not_pause_it(twilio_app, mama, db, fake):
    for i in range(60):
        add_member(db, mama, f"+234803000{i:04d}")
    fake.answer_next(50, status=400, code=21211, message="Invalid 'To' Phone Number")  # 50 of 60: not more than 50
    broadcast = create(db, mama)
    launch(twilio_app, broadcast)
    assert stats(db, broadcast)["status"] == "completed"


# STOP and the frequency cap during a broadcast


def test_stop_before_their_turn_means_no_push(twilio_app, mama, db, fake, phone):
    add_member(db, mama, "+2348030000001")
    add_member(db, mama, "+2348030000002")
    broadcast = create(db, mama)
    with db.transaction() as session:
        broadcasts_at(session, session.get(Tenant, mama.id)).move(broadcast.id, "launch")
    assert phone("+2348030000002").send("STOP").status == 200
    run(twilio_app, broadcast)
    assert [m["to"] for m in fake.messages.values()] == ["whatsapp:+2348030000001"]
    result = stats(db, broadcast)
    assert (result["sent"], result["skipped_by_reason"]) == (1, {"opted_out": 1}) and adds_up(result)


def test_stop_while_a_worker_is_sending_the_batch_stops_the_rest(twilio_app, mama, db, fake, phone, monkeypatch):
    """The batch is claimed; a STOP arrives while the worker waits its turn to send: the worker
    checks opt-outs before its next marketing send (here before each one, instead of once a
    second), so the member who said STOP gets nothing, whether theirs was the next or a later one."""
    monkeypatch.setattr(outbound_worker, "OPT_OUTS_EVERY", 0)
    load_mama(db, messages_per_second=2)
    phones = {f"whatsapp:+23480300000{i:02d}" for i in range(3)}
    for number in phones:
        add_member(db, mama, number.removeprefix("whatsapp:"))
    broadcast = create(db, mama)
    runtime = twilio_app.extensions["runtime"]
    stopped = []

    def wait_and_stop(seconds):
        if not stopped:  # one went out already; stop one of the two still to go
            number = min(phones - {m["to"] for m in fake.messages.values()})
            assert phone(number.removeprefix("whatsapp:")).send("STOP").status == 200
            stopped.append(number)
        time.sleep(seconds)

    runtime.pacer = Pacer(runtime.redis, sleep=wait_and_stop)
    launch(twilio_app, broadcast)
    assert sorted(m["to"] for m in fake.messages.values()) == sorted(phones - set(stopped))
    result = stats(db, broadcast)
    assert (result["sent"], result["skipped_by_reason"], result["status"]) == (2, {"opted_out": 1}, "completed")


def marketing_pushes(db, tenant, customer_id, n: int, days_ago: float = 1) -> None:
    with db.transaction() as session:
        for _ in range(n):
            session.add(Message(
                tenant_id=tenant.id, customer_id=customer_id, direction="outbound", channel="whatsapp", status="delivered",
                from_number=tenant.whatsapp_number, to_number="+2340000000000", body="offer", category="marketing",
                triggered_by="expiry_reminder", created_at=utcnow() - timedelta(days=days_ago)))


def test_the_weekly_cap_counts_marketing_of_any_kind_and_never_transactional(mama, db):
    reminded = add_member(db, mama, "+2348030000001")
    notified = add_member(db, mama, "+2348030000002")
    old = add_member(db, mama, "+2348030000003")
    marketing_pushes(db, mama, reminded, 2)
    marketing_pushes(db, mama, old, 2, days_ago=8)  # last week's
    with db.transaction() as session:
        for _ in range(3):
            session.add(Message(
                tenant_id=mama.id, customer_id=notified, direction="outbound", channel="whatsapp", status="sent",
                from_number=mama.whatsapp_number, to_number="+2348030000002", body="receipt", category="transactional",
                triggered_by="purchase_notice", created_at=utcnow()))
    with db.sessions() as session:
        result = broadcasts_at(session, mama).preview(parsed(db, mama, definition()))
    assert (result.suppressed["frequency_cap"], result.recipients) == (1, 2)
    tenant = load_mama(db, max_marketing_per_week=3)
    with db.sessions() as session:
        assert broadcasts_at(session, tenant).preview(parsed(db, tenant, definition())).recipients == 3


def test_the_cap_is_checked_again_when_a_recipients_turn_comes(app, mama, db):
    first = add_member(db, mama, "+2348030000001")
    add_member(db, mama, "+2348030000002")
    broadcast = create(db, mama)
    with db.transaction() as session:
        broadcasts_at(session, session.get(Tenant, mama.id)).move(broadcast.id, "launch")
    marketing_pushes(db, mama, first, 2, days_ago=0)  # two other broadcasts reached them meanwhile
    run(app, broadcast)
    result = stats(db, broadcast)
    assert (result["sent"], result["skipped_by_reason"]) == (1, {"frequency_cap": 1}) and adds_up(result)


# Stats and follow-ups


def receipt(app, message, status):
    assert post_status(app, {"MessageSid": message.message_sid, "MessageStatus": status},
                       (message.tenant_id, message.id)).status_code == 204


def test_stats_count_receipts_replies_opt_outs_and_conversions(twilio_app, mama, db, fake, phone):
    ids = [add_member(db, mama, f"+23480300000{i:02d}") for i in range(5)]
    broadcast = create(db, mama)
    launch(twilio_app, broadcast)
    by_customer = {m.customer_id: m for m in pushes(db, broadcast)}
    receipt(twilio_app, by_customer[ids[0]], "read")
    receipt(twilio_app, by_customer[ids[1]], "delivered")
    receipt(twilio_app, by_customer[ids[2]], "undelivered")
    phone("+2348030000000").send("BAL")  # a reply
    phone("+2348030000001").send("STOP")  # an opt-out
    sent_at = by_customer[ids[0]].sent_at
    with db.transaction() as session:
        for customer, amount, days in ((ids[0], 150_000, 2), (ids[1], 99_000, 8), (ids[3], 20_000, 6)):
            session.add(Purchase(tenant_id=mama.id, customer_id=customer, amount=amount, currency="NGN",
                                 created_at=sent_at + timedelta(days=days)))
        session.add(Purchase(tenant_id=mama.id, customer_id=ids[4], amount=5_000, currency="NGN",
                             created_at=sent_at - timedelta(hours=1)))  # before the push: not a conversion
        reward_id = session.scalar(select(Reward.id).limit(1))
        session.add(RewardRedemption(tenant_id=mama.id, customer_id=ids[3], reward_id=reward_id, points_deducted=100,
                                     redemption_code="RD-TESTAB", media_token="t" * 40, expires_at=utcnow() + timedelta(days=1),
                                     created_at=sent_at + timedelta(days=1)))
    result = stats(db, broadcast)
    assert result == {
        "status": "completed", "targeted": 5, "sent": 4, "delivered": 2, "read": 1, "failed": 1,
        "failed_by_code": {"unknown": 1}, "skipped": 0, "skipped_by_reason": {}, "queued": 0, "replied": 2,
        "opted_out": 1, "conversions": {"purchases": 2, "redemptions": 1, "revenue": 170_000}, "pause_reason": None,
    }


def test_a_reply_after_72_hours_is_not_counted(twilio_app, mama, db, fake, phone):
    add_member(db, mama, "+2348030000001")
    broadcast = create(db, mama)
    launch(twilio_app, broadcast)
    phone("+2348030000001").send("BAL")
    assert stats(db, broadcast)["replied"] == 1
    with db.transaction() as session:
        session.execute(update(Message).where(Message.broadcast_id == broadcast.id)
                        .values(sent_at=utcnow() - timedelta(hours=73)))
    assert stats(db, broadcast)["replied"] == 0


def test_stats_in_the_vendors_words(twilio_app, mama, db, fake):
    for i in range(3):
        add_member(db, mama, f"+23480300000{i:02d}")
    fake.answer_next(1, status=400, code=21211, message="Invalid 'To' Phone Number")
    broadcast = create(db, mama)
    launch(twilio_app, broadcast)
    result = cli(twilio_app, "stats", str(broadcast.id))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "'Friday double points' (MAMA) is completed.",
        "Targeted 3: 2 sent (0 delivered, 0 read), 1 failed, 0 skipped, 0 still to go.",
        "Failed, by Twilio's error code: 21211: 1.",
        "Within 72 hours: 0 replied, 0 opted out.",
        "Within 7 days: 0 purchase(s) worth ₦0, 0 reward(s) redeemed.",
    ]


@pytest.mark.parametrize("flag, expected", [("--not-read", {1, 2}), ("--not-replied", {0, 2})])
def test_a_follow_up_goes_to_who_did_not_read_or_did_not_reply(twilio_app, mama, db, fake, phone, tmp_path, flag, expected):
    ids = [add_member(db, mama, f"+23480300000{i:02d}") for i in range(4)]
    broadcast = create(db, mama)
    launch(twilio_app, broadcast)
    by_customer = {m.customer_id: m for m in pushes(db, broadcast)}
    receipt(twilio_app, by_customer[ids[0]], "read")
    receipt(twilio_app, by_customer[ids[3]], "undelivered")  # never reached: no follow-up either
    phone("+2348030000001").send("BAL")
    result = cli(twilio_app, "retarget", str(broadcast.id), flag, write(tmp_path, definition(name="Last chance")))
    assert result.exit_code == 0, result.output
    follow_up = result.output.strip().splitlines()[-1]
    with db.sessions() as session:
        retargeted = session.get(Broadcast, (mama.id, uuid.UUID(follow_up)))
    assert (retargeted.retarget_of, retargeted.name) == (broadcast.id, "Last chance")
    launch(twilio_app, retargeted)
    assert {m.customer_id for m in pushes(db, retargeted)} == {ids[i] for i in expected}


def test_a_follow_up_of_a_draft_is_refused(app, mama, db, tmp_path):
    broadcast = create(db, mama)
    result = cli(app, "retarget", str(broadcast.id), "--not-read", write(tmp_path, definition()))
    assert result.exit_code == 1 and "has not been sent yet" in result.output
    assert count(db, Broadcast) == 1


# The commands


def test_the_commands_from_create_to_stats(app, mama, db, tmp_path, capsys):
    add_member(db, mama, "+2348030000001", name="Ada Obi")
    path = write(tmp_path, definition())
    preview = cli(app, "preview", path)
    assert preview.exit_code == 0, preview.output
    assert "'Friday double points' for MAMA: 1 member(s) match." in preview.output and "Recipients: 1." in preview.output
    created = cli(app, "create", path)
    assert created.exit_code == 0, created.output
    broadcast_id = created.output.strip().splitlines()[-1]
    assert str(uuid.UUID(broadcast_id)) == broadcast_id
    listed = cli(app, "list", "--tenant", "mama")
    assert broadcast_id in listed.output and "draft" in listed.output
    launched = cli(app, "launch", broadcast_id)
    assert launched.exit_code == 0 and "is sending to 1 member(s)" in launched.output
    run_jobs(app)
    assert pushes(db, Broadcast(id=uuid.UUID(broadcast_id)))[0].body.startswith("Hi Ada! Double points")
    assert "was already completed" in cli(app, "launch", broadcast_id).output
    assert cli(app, "pause", broadcast_id).exit_code == 1
    result = json.loads(cli(app, "stats", broadcast_id, "--json").output)
    assert (result["status"], result["sent"], result["targeted"]) == ("completed", 1, 1)
    assert cli(app, "list", "--tenant", "ZOBO").exit_code == 1


def test_an_unknown_id_is_a_clear_error(app, mama):
    result = cli(app, "stats", "00000000-0000-0000-0000-000000000000")
    assert result.exit_code == 1 and "No broadcast 00000000-0000-0000-0000-000000000000" in result.output
    assert cli(app, "launch", "not-an-id").exit_code == 2

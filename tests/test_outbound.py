"""The delivery engine against a local fake of Twilio's REST API (the real twilio client, pointed
at it through TWILIO_API_BASE): channels and the 24-hour window, Twilio's answers, receipts,
reconcile, pacing. The crash tests with real workers are in test_outbound_pg.py."""
from __future__ import annotations

import json
import logging
import uuid
import zlib
from datetime import timedelta
from urllib.parse import urlencode

import fakeredis
import pytest
from rq import Queue
from rq.job import Job
from rq.utils import now as rq_now, utcparse
from sqlalchemy import select, update
from twilio.request_validator import RequestValidator

from bot.messages import say
from bot.outbound import MARKETING, notify, queue_message, queue_pushes
from bot.pacing import Pacer
from bot.redis_line import run_in_order
from bot.runtime import JOB_OPTIONS, SEND_JOB, _JobTemplate
from bot.services import delivery
from models import Customer, Tenant, Message
from bot.services.tenants import load_tenant
from models.base import utcnow
from tests.conftest import AUTH_TOKEN, PUBLIC_BASE_URL, Clock, count, run_jobs, tenant_file
from workers.outbound import PushedBack, reconcile, send_batch

ACCOUNT_SID = "AC" + "0" * 32
TEMPLATE_SID = "HX" + "1" * 32
CUSTOMER = "+2348031234567"
LEASE = 8  # seconds; sends time out after a quarter of it


@pytest.fixture
def twilio_app(make_app, fake):
    """The same database, with a Twilio account: the real twilio client sends to the fake."""
    return make_app(twilio_account_sid=ACCOUNT_SID, twilio_api_base=fake.url, outbox_lease_seconds=LEASE)


def load_mama(db, **changes) -> Tenant:
    with db.transaction() as session:
        return load_tenant(session, tenant_file(**{"messages_per_second": 0, **changes})).tenant


@pytest.fixture
def mama(db):
    return load_mama(db)


@pytest.fixture
def member(phone, mama, db) -> Customer:
    """A member who joined on WhatsApp just now: inside the 24-hour window."""
    phone(CUSTOMER).send("JOIN MAMA")
    with db.sessions() as session:
        return session.scalars(select(Customer)).one()


def push(app, member, message=None, category="transactional"):
    """Queue a push in its own transaction, hand it over after commit, run the jobs."""
    runtime = app.extensions["runtime"]
    outbox = []
    with runtime.db.transaction() as session:
        tenant = session.get(Tenant, member.tenant_id)
        customer = session.get(Customer, (member.tenant_id, member.id))
        key = notify(session, outbox, tenant, customer, message or say("tier_reached", vendor="Mama", tier="Gold"),
                     category=category)
    runtime.deliver(outbox)
    run_jobs(app)
    return key


def queued(app, member, body="Your points are waiting!") -> tuple:
    """Queue without handing over: the test runs the job itself."""
    with app.extensions["runtime"].db.transaction() as session:
        return queue_message(session, [], session.get(Tenant, member.tenant_id), member, body, triggered_by="test")


def stored(db, key) -> Message:
    with db.sessions() as session:
        return session.get(Message, key)


def customer_row(db, member) -> Customer:
    with db.sessions() as session:
        return session.get(Customer, (member.tenant_id, member.id))


def job(app, fn, *args):
    with app.app_context():
        return fn(*args)


def keys(*keys):
    return [(str(tenant_id), str(message_id)) for tenant_id, message_id in keys]


def age_inbound(db, hours: float) -> None:
    """Move every inbound message back in time: the customer last wrote `hours` ago."""
    with db.transaction() as session:
        session.execute(update(Message).where(Message.direction == "inbound")
                        .values(created_at=utcnow() - timedelta(hours=hours)))


def expire_leases(db) -> None:
    with db.transaction() as session:
        session.execute(update(Message).where(Message.status == "sending")
                        .values(lease_until=utcnow() - timedelta(seconds=1)))


def sent_forms(fake):
    return list(fake.messages.values())


# Sending


def test_console_sender_stores_and_prints_without_sending(app, member, db, capsys):
    message = stored(db, push(app, member))
    assert message.status == "sent" and message.message_sid.startswith("SMconsole")
    assert "[outbound whatsapp to +2348031234567] Congratulations! You've reached *Gold* at *Mama*." in capsys.readouterr().out


def test_a_push_reaches_twilio_once_with_a_status_callback_carrying_its_id(twilio_app, member, db, fake):
    key = push(twilio_app, member)
    message = stored(db, key)
    [sent] = sent_forms(fake)
    assert (message.status, message.message_sid, message.attempts) == ("sent", sent["sid"], 1)
    assert (sent["from"], sent["to"]) == ("whatsapp:+14155238886", "whatsapp:+2348031234567")
    assert sent["_ours"] == str(key[1])  # the StatusCallback URL ends with the message's own id
    assert fake.stats()["duplicates"] == 0


def test_a_duplicate_job_sends_nothing_twice(twilio_app, member, db, fake):
    key = push(twilio_app, member)
    assert job(twilio_app, send_batch, keys(key)) == {"skipped": 0}
    assert fake.stats()["creates"] == 1


def test_many_pushes_go_out_in_one_batch(twilio_app, member, db, fake):
    with db.transaction() as session:
        tenant = session.get(Tenant, member.tenant_id)
        pushes = [(member, say("tier_reached", vendor="Mama", tier=f"T{i}")) for i in range(30)]
        batch = queue_pushes(session, [], tenant, pushes, category="transactional")
    assert job(twilio_app, send_batch, keys(*batch)) == {"skipped": 0, "sent": 30}
    assert fake.stats() == {"creates": 30, "accepted": 30, "distinct": 30, "duplicates": 0}
    assert count(db, Message, Message.status == "sent") == 30


# Channels and the 24-hour window


def test_outside_the_window_without_a_template_the_push_is_skipped_with_its_reason(twilio_app, member, db, fake):
    age_inbound(db, 25)
    message = stored(db, push(twilio_app, member))
    assert (message.status, message.error_code) == ("skipped", "no_template")
    assert "24-hour window" in message.error_message
    assert fake.stats()["creates"] == 0


def test_outside_the_window_the_template_goes_with_its_variables(twilio_app, phone, db, fake):
    load_mama(db, templates={"tier_reached": {"content_sid": TEMPLATE_SID, "variables": ["tier", "vendor"]}})
    phone(CUSTOMER).send("JOIN MAMA")
    age_inbound(db, 25)
    with db.sessions() as session:
        member = session.scalars(select(Customer)).one()
    message = stored(db, push(twilio_app, member))
    [sent] = sent_forms(fake)
    assert sent["body"] == f'(template {TEMPLATE_SID} {json.dumps({"1": "Gold", "2": "Mama"})})'
    assert (message.status, message.content_sid) == ("sent", TEMPLATE_SID)


def test_a_lost_template_push_never_takes_the_sid_of_a_text_push_not_recorded_yet(twilio_app, phone, db, fake):
    """A template's text at Twilio is not ours to know, so its lookup takes any text: but not
    that of our own free-text push to the same customer whose SID is still being written."""
    load_mama(db, templates={"tier_reached": {"content_sid": TEMPLATE_SID, "variables": ["tier", "vendor"]}})
    phone(CUSTOMER).send("JOIN MAMA")
    with db.sessions() as session:
        member = session.scalars(select(Customer)).one()
    text = queued(twilio_app, member, "Your points are waiting!")
    job(twilio_app, send_batch, keys(text))
    with db.transaction() as session:  # sent and kept by Twilio; its answer not written yet
        session.execute(update(Message).where(Message.id == text[1]).values(
            status="sending", message_sid=None, lease_until=utcnow() + timedelta(minutes=5)))
    age_inbound(db, 25)  # the window closes: the next push goes as its template
    fake.answer_next(status=503, code=20503, keep=False)
    template = push(twilio_app, member)
    with db.transaction() as session:  # its claim ran out, the other one's did not
        session.execute(update(Message).where(Message.id == template[1]).values(lease_until=utcnow() - timedelta(seconds=1)))
    assert job(twilio_app, reconcile)["queued again"] == 1
    run_jobs(twilio_app)
    sent = stored(db, template)
    assert (sent.status, sent.content_sid) == ("sent", TEMPLATE_SID)
    assert sent.message_sid != [m["sid"] for m in sent_forms(fake) if m["body"] == "Your points are waiting!"][0]
    assert fake.stats()["duplicates"] == 0


def lookup_takes_the_sid_of_an_alike_push(twilio_app, member, db, fake, *others) -> tuple:
    """Two alike pushes to one customer: the first one's worker died before sending it; the
    second went (with `others`), its answer not written yet, when reconcile looks the first one
    up and takes the second one's SID. Returns the first, the second and the second's SID."""
    lost, went = queued(twilio_app, member), queued(twilio_app, member)
    job(twilio_app, send_batch, keys(went, *others))
    with db.transaction() as session:
        session.execute(update(Message).where(Message.id.in_([went[1], *(other[1] for other in others)])).values(
            status="sending", message_sid=None, lease_until=utcnow() + timedelta(minutes=5)))
        session.execute(update(Message).where(Message.id == lost[1]).values(
            status="sending", attempts=1, lease_until=utcnow() - timedelta(seconds=1)))
    assert job(twilio_app, reconcile)["found"] == 1
    [sid] = [m["sid"] for m in sent_forms(fake) if m["_ours"] == str(went[1])]
    assert stored(db, lost).message_sid == sid
    return lost, went, sid


def test_a_sid_a_lookup_took_for_the_wrong_push_goes_to_the_one_twilio_gave_it(twilio_app, member, db, fake):
    """Twilio's answer to a send is certain, a lookup's match a guess: the push sent gets its
    SID, with the other answers written with it, and the guessed one is looked up again."""
    other = queued(twilio_app, member, "Another push")
    lost, went, sid = lookup_takes_the_sid_of_an_alike_push(twilio_app, member, db, fake, other)
    [other_sid] = [m["sid"] for m in sent_forms(fake) if m["_ours"] == str(other[1])]
    with db.transaction() as session:  # the worker writes its answers
        delivery.record(session, [(_send_of(stored(db, went)), delivery.Answer(sid=sid)),
                                  (_send_of(stored(db, other)), delivery.Answer(sid=other_sid))], utcnow(), timedelta(seconds=LEASE))
    assert [(stored(db, key).status, stored(db, key).message_sid) for key in (went, other, lost)] == [
        ("sent", sid), ("sent", other_sid), ("sending", None)]
    assert job(twilio_app, reconcile)["queued again"] == 1  # at Twilio only as the other's SID: it never went
    run_jobs(twilio_app)
    assert stored(db, lost).status == "sent" and stored(db, lost).message_sid not in (sid, other_sid)
    assert fake.stats() == {"creates": 3, "accepted": 3, "distinct": 3, "duplicates": 0}


def test_a_receipt_gives_its_push_the_sid_a_lookup_took_for_another(twilio_app, member, db, fake):
    lost, went, sid = lookup_takes_the_sid_of_an_alike_push(twilio_app, member, db, fake)
    assert post_status(twilio_app, {"MessageSid": sid, "MessageStatus": "delivered"}, went).status_code == 204
    assert [(stored(db, key).status, stored(db, key).message_sid) for key in (went, lost)] == [("delivered", sid), ("sending", None)]
    assert job(twilio_app, reconcile)["queued again"] == 1
    run_jobs(twilio_app)
    assert stored(db, lost).status == "sent"
    assert fake.stats()["duplicates"] == 0


def test_inside_the_window_free_text_goes_even_with_a_template(twilio_app, phone, db, fake):
    load_mama(db, templates={"tier_reached": {"content_sid": TEMPLATE_SID, "variables": ["tier"]}})
    phone(CUSTOMER).send("JOIN MAMA")
    with db.sessions() as session:
        member = session.scalars(select(Customer)).one()
    push(twilio_app, member)
    assert sent_forms(fake)[0]["body"].startswith("Congratulations! You've reached *Gold*")


def test_a_customer_seen_only_on_sms_gets_sms_from_the_vendors_sms_number(twilio_app, phone, db, fake):
    load_mama(db, sms_number="+14155550100")
    phone(CUSTOMER, channel="sms").send("JOIN MAMA")
    age_inbound(db, 48)  # the WhatsApp window does not matter on SMS
    with db.sessions() as session:
        member = session.scalars(select(Customer)).one()
    message = stored(db, push(twilio_app, member))
    [sent] = sent_forms(fake)
    assert (sent["from"], sent["to"]) == ("+14155550100", CUSTOMER)
    assert (message.status, message.channel, message.from_number) == ("sent", "sms", "+14155550100")


def test_without_an_sms_number_an_sms_customer_gets_whatsapp_by_its_rules(twilio_app, phone, db, fake):
    load_mama(db, templates={"tier_reached": {"content_sid": TEMPLATE_SID, "variables": ["tier"]}})
    phone(CUSTOMER, channel="sms").send("JOIN MAMA")
    with db.sessions() as session:
        member = session.scalars(select(Customer)).one()
    push(twilio_app, member)  # never wrote on WhatsApp: outside its window, so the template
    assert (sent_forms(fake)[0]["from"], sent_forms(fake)[0]["body"][:9]) == ("whatsapp:+14155238886", "(template")


# Marketing and STOP


def test_stop_suppresses_marketing_only(twilio_app, member, phone, db, fake):
    phone(CUSTOMER).send("STOP")
    marketing = stored(db, push(twilio_app, member, category=MARKETING))
    transactional = stored(db, push(twilio_app, member))
    assert (marketing.status, marketing.error_code) == ("skipped", "opted_out")
    assert transactional.status == "sent"
    assert fake.stats()["creates"] == 1


def test_an_opt_out_after_queueing_still_suppresses_the_marketing_push(twilio_app, member, phone, db, fake):
    with db.transaction() as session:
        key = notify(session, [], session.get(Tenant, member.tenant_id), member, say("tier_reached", vendor="M", tier="G"),
                     category=MARKETING)
    phone(CUSTOMER).send("STOP")
    job(twilio_app, send_batch, keys(key))
    assert stored(db, key).error_code == "opted_out"
    assert fake.stats()["creates"] == 0


def test_marketing_past_the_vendors_weekly_cap_is_skipped(twilio_app, phone, db, fake):
    load_mama(db, max_marketing_per_week=2)
    phone(CUSTOMER).send("JOIN MAMA")
    with db.sessions() as session:
        member = session.scalars(select(Customer)).one()
    pushes = [stored(db, push(twilio_app, member, category=MARKETING)) for _ in range(3)]
    assert [(m.status, m.error_code) for m in pushes] == [("sent", None), ("sent", None), ("skipped", "frequency_cap")]
    assert stored(db, push(twilio_app, member)).status == "sent"  # transactional pushes are not capped
    assert fake.stats()["creates"] == 3


def queued_marketing(app, member, n: int) -> list:
    """Marketing pushes queued without handing them over: the test claims or sends them itself."""
    with app.extensions["runtime"].db.transaction() as session:
        return [queue_message(session, [], session.get(Tenant, member.tenant_id), member, f"offer {i}",
                              triggered_by="test", category=MARKETING) for i in range(n)]


def test_marketing_claimed_in_one_batch_counts_against_the_cap_as_it_is_planned(twilio_app, member, db, fake):
    batch = queued_marketing(twilio_app, member, 3)  # the cap is 2
    job(twilio_app, send_batch, keys(*batch))
    assert [(stored(db, key).status, stored(db, key).error_code) for key in batch] == [
        ("sent", None), ("sent", None), ("skipped", "frequency_cap")]
    assert fake.stats()["creates"] == 2


def test_marketing_past_the_cap_in_one_batch_skips_the_last_queued_whatever_their_ids(twilio_app, member, db, fake):
    """Ids made in the same millisecond are in no order: the queueing time decides."""
    newest, middle, oldest = sorted(queued_marketing(twilio_app, member, 3), key=lambda key: key[1])  # by id
    queued_at = utcnow() - timedelta(minutes=1)
    with db.transaction() as session:  # written newest first: PostgreSQL's table then holds them in that order too
        for minutes, (_, message_id) in reversed(list(enumerate((oldest, middle, newest)))):
            session.execute(update(Message).where(Message.id == message_id).values(created_at=queued_at + timedelta(minutes=minutes)))
    job(twilio_app, send_batch, keys(newest, middle, oldest))
    assert [stored(db, key).status for key in (oldest, middle, newest)] == ["sent", "sent", "skipped"]


def test_marketing_a_worker_is_sending_counts_against_the_cap(twilio_app, member, db):
    """Two workers' claims, the first not answered yet: its pushes count, though Twilio has not taken them yet."""
    first, second, third = queued_marketing(twilio_app, member, 3)
    with db.transaction() as session:
        sends, _, _ = delivery.claim(session, [first, second], utcnow(), timedelta(seconds=LEASE))
    assert len(sends) == 2
    with db.transaction() as session:
        sends, skips, _ = delivery.claim(session, [third], utcnow(), timedelta(seconds=LEASE))
    assert sends == [] and [skip.reason for skip in skips] == ["frequency_cap"]


# Twilio's answers


def test_twilio_pushing_back_releases_the_batch_for_a_retry(twilio_app, member, db, fake):
    first, second = queued(twilio_app, member, "one"), queued(twilio_app, member, "two")
    fake.answer_next(status=429, code=20429, message="Too Many Requests")
    with pytest.raises(PushedBack):
        job(twilio_app, send_batch, keys(first, second))
    assert [(m.status, m.error_code) for m in (stored(db, first), stored(db, second))] == [("queued", "20429"), ("queued", None)]
    assert fake.stats()["creates"] == 1  # the second was not tried
    assert job(twilio_app, send_batch, keys(first, second))["sent"] == 2
    assert fake.stats()["accepted"] == 2


@pytest.mark.parametrize("code", [14107, None])  # a rate limit of another kind; a 429 whose body says nothing
def test_any_429_is_a_push_back_not_a_failure(twilio_app, member, db, fake, code):
    key = queued(twilio_app, member)
    fake.answer_next(status=429, code=code, message="Too Many Requests")
    with pytest.raises(PushedBack):
        job(twilio_app, send_batch, keys(key))
    assert (stored(db, key).status, stored(db, key).error_code) == ("queued", "http_429")
    assert job(twilio_app, send_batch, keys(key))["sent"] == 1


@pytest.mark.parametrize("status, code", [(401, 20003), (404, 20404)])  # bad credentials; no such account
def test_twilio_refusing_our_account_keeps_the_batch_queued_and_says_so_once(twilio_app, member, db, fake, caplog, status, code):
    batch = [queued(twilio_app, member, f"push {n}") for n in range(3)]
    fake.answer_next(status=status, code=code, message="Authenticate")
    with caplog.at_level(logging.ERROR, logger="workers.outbound"):
        job(twilio_app, send_batch, keys(*batch))
    assert sorted(stored(db, key).status for key in batch) == ["queued"] * 3
    assert fake.stats()["creates"] == 1  # the others would be refused alike: not tried
    assert customer_row(db, member).unreachable_at is None
    assert [record.levelname for record in caplog.records if "TWILIO_AUTH_TOKEN" in record.getMessage()] == ["ERROR"]
    with db.transaction() as session:  # the credentials are put right; a lease goes by
        session.execute(update(Message).where(Message.status == "queued")
                        .values(enqueued_at=utcnow() - timedelta(seconds=LEASE + 1)))
    assert job(twilio_app, reconcile)["waiting queued again"] == 3
    run_jobs(twilio_app)
    assert [stored(db, key).status for key in batch] == ["sent"] * 3
    assert fake.stats()["accepted"] == 3 and fake.stats()["duplicates"] == 0


def test_a_refusal_written_as_rfc_9457_problem_details_is_read_as_twilios_classic_one(twilio_app, member, db, fake):
    key = queued(twilio_app, member)
    fake.answer_next(status=429, code=20429, problem=True)
    with pytest.raises(PushedBack):
        job(twilio_app, send_batch, keys(key))
    assert (stored(db, key).status, stored(db, key).error_code) == ("queued", "20429")
    fake.answer_next(status=400, code=21211, message="Invalid 'To' Phone Number", problem=True)
    job(twilio_app, send_batch, keys(key))
    assert (stored(db, key).status, customer_row(db, member).unreachable_code) == ("failed", "21211")
    assert fake.stats()["creates"] == 2


def test_an_answer_without_a_sid_is_looked_up_not_failed_nor_sent_again(twilio_app, member, db, fake):
    key = queued(twilio_app, member)
    fake.answer_next(sid=False)
    job(twilio_app, send_batch, keys(key))
    assert (stored(db, key).status, stored(db, key).error_code) == ("sending", "no_response")
    expire_leases(db)
    assert job(twilio_app, reconcile)["found"] == 1
    [sent] = sent_forms(fake)
    assert (stored(db, key).status, stored(db, key).message_sid) == ("sent", sent["sid"])
    assert fake.stats()["creates"] == 1


def test_answers_already_in_are_written_before_the_lease_is_renewed(make_app, fake, member, db):
    """A long batch renews its lease as it goes; an answer it holds unwritten would lose its
    claim meanwhile, and a reconcile then would find a refused message nowhere at Twilio and
    send it again."""
    app = make_app(twilio_account_sid=ACCOUNT_SID, twilio_api_base=fake.url, outbox_lease_seconds=4)
    batch = [queued(app, member, f"push {n}") for n in range(16)]
    fake.answer_next(status=400, code=21617, message="Message body too long")
    fake.answer_next(15, delay=0.3)
    tried: list[str] = []  # our message ids, in the order they reached the fake

    def reconcile_past_the_first_lease(form):
        tried.append(form["StatusCallback"].rsplit("/", 1)[-1])
        if len(fake.messages) == 14:  # some 4.5 s in: the first claim's lease is over
            with app.app_context():
                reconcile()

    fake.on_create = reconcile_past_the_first_lease
    job(app, send_batch, keys(*batch))
    refused = (member.tenant_id, uuid.UUID(tried[0]))  # the first one sent got the refusal
    assert (stored(db, refused).status, stored(db, refused).error_code) == ("failed", "21617")
    assert fake.stats()["creates"] == 16 and fake.stats()["duplicates"] == 0


def test_connection_refused_means_nothing_was_sent(make_app, member, db):
    refused = make_app(twilio_account_sid=ACCOUNT_SID, twilio_api_base="http://127.0.0.1:9", outbox_lease_seconds=LEASE)
    key = queued(refused, member)
    with pytest.raises(PushedBack):
        job(refused, send_batch, keys(key))
    assert (stored(db, key).status, stored(db, key).error_code) == ("queued", "connection_refused")


@pytest.mark.parametrize("answer", [
    {"status": 500, "code": 20500, "keep": True},  # Twilio failed after taking it
    {"drop": True, "keep": True},  # the answer was lost
    {"delay": LEASE / 4 + 1, "keep": True},  # no answer in time
])
def test_a_message_that_may_have_gone_is_looked_up_and_never_sent_twice(twilio_app, member, db, fake, answer):
    key = queued(twilio_app, member)
    fake.answer_next(**answer)
    job(twilio_app, send_batch, keys(key))
    maybe = stored(db, key)
    assert maybe.status == "sending" and maybe.message_sid is None
    expire_leases(db)
    assert job(twilio_app, reconcile) == {"found": 1, "waiting queued again": 0}
    [sent] = sent_forms(fake)
    assert (stored(db, key).status, stored(db, key).message_sid) == ("sent", sent["sid"])
    assert fake.stats()["creates"] == 1


def test_a_message_that_did_not_go_is_queued_again_by_reconcile_and_sent_once(twilio_app, member, db, fake):
    key = queued(twilio_app, member)
    fake.answer_next(status=503, code=20503)
    job(twilio_app, send_batch, keys(key))
    expire_leases(db)
    assert job(twilio_app, reconcile)["queued again"] == 1
    run_jobs(twilio_app)
    assert stored(db, key).status == "sent"
    assert fake.stats() == {"creates": 2, "accepted": 1, "distinct": 1, "duplicates": 0}


def test_an_unreachable_number_fails_is_marked_and_gets_nothing_more(twilio_app, member, phone, db, fake):
    fake.answer_next(status=400, code=21211, message="Invalid 'To' Phone Number")
    first = stored(db, push(twilio_app, member))
    assert (first.status, first.error_code) == ("failed", "21211")
    assert customer_row(db, member).unreachable_code == "21211"
    assert stored(db, push(twilio_app, member)).error_code == "unreachable"
    assert fake.stats()["creates"] == 1
    phone(CUSTOMER).send("BAL")  # writing in proves the number works again
    assert stored(db, push(twilio_app, member)).status == "sent"


def test_a_carrier_opt_out_is_recorded_on_the_customer(twilio_app, member, db, fake):
    fake.answer_next(status=400, code=21610, message="Attempt to send to unsubscribed recipient")
    assert stored(db, push(twilio_app, member)).status == "failed"
    customer = customer_row(db, member)
    assert (customer.opted_in, customer.opt_out_code) == (False, "21610")
    assert stored(db, push(twilio_app, member, category=MARKETING)).error_code == "opted_out"


def test_window_closed_at_twilio_resends_as_the_template(twilio_app, phone, db, fake):
    load_mama(db, templates={"tier_reached": {"content_sid": TEMPLATE_SID, "variables": ["tier"]}})
    phone(CUSTOMER).send("JOIN MAMA")
    with db.sessions() as session:
        member = session.scalars(select(Customer)).one()
    fake.answer_next(status=400, code=63016, message="Outside the allowed window")
    message = stored(db, push(twilio_app, member))
    assert (message.status, message.content_sid) == ("sent", TEMPLATE_SID)
    assert fake.stats()["creates"] == 2 and fake.stats()["accepted"] == 1


def test_a_refused_message_fails_and_is_not_retried(twilio_app, member, db, fake):
    fake.answer_next(status=400, code=21617, message="The concatenated message body exceeds the 1600 character limit")
    message = stored(db, push(twilio_app, member))
    assert (message.status, message.error_code) == ("failed", "21617")
    job(twilio_app, reconcile)
    assert fake.stats()["creates"] == 1


def test_a_channel_rate_limit_defers_by_hours(twilio_app, member, db, fake):
    fake.answer_next(status=400, code=63018, message="Rate limit exceeded for Channel")
    key = queued(twilio_app, member)
    job(twilio_app, send_batch, keys(key))
    message = stored(db, key)
    assert message.status == "queued" and message.not_before > utcnow() + timedelta(hours=3)
    assert job(twilio_app, send_batch, keys(key)) == {"skipped": 0}  # not before its time
    job(twilio_app, reconcile)
    assert fake.stats()["creates"] == 1


def test_a_deferred_push_goes_once_the_apps_clock_passes_its_time(make_app, fake, member, db):
    clock = Clock()
    app = make_app(clock=clock, twilio_account_sid=ACCOUNT_SID, twilio_api_base=fake.url, outbox_lease_seconds=LEASE)
    fake.answer_next(status=400, code=63018, message="Rate limit exceeded for Channel")
    key = queued(app, member)
    job(app, send_batch, keys(key))
    clock.advance(hours=4, minutes=1)
    job(app, reconcile)
    run_jobs(app)
    assert stored(db, key).status == "sent" and fake.stats()["creates"] == 2


# Receipts


def post_status(app, form, key=None):
    path = "/webhooks/twilio/status" + (f"/{key[0]}/{key[1]}" if key else "")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + path, form)
    return app.test_client().post(path, data=urlencode(form), headers={
        "X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"})


def test_delivery_receipts_move_the_status_forward_only(app, member, db):
    key = push(app, member)
    sid = stored(db, key).message_sid
    assert post_status(app, {"MessageSid": sid, "MessageStatus": "read"}, key).status_code == 204
    post_status(app, {"MessageSid": sid, "MessageStatus": "delivered"}, key)  # late, out of order
    assert stored(db, key).status == "read"
    post_status(app, {"MessageSid": sid, "MessageStatus": "sent"})  # by SID alone (older URLs)
    assert stored(db, key).status == "read"


def test_a_terminal_failure_stays_failed(app, member, db):
    key = push(app, member)
    sid = stored(db, key).message_sid
    post_status(app, {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "30008"}, key)
    post_status(app, {"MessageSid": sid, "MessageStatus": "delivered"}, key)
    assert (stored(db, key).status, stored(db, key).error_code) == ("failed", "30008")


def test_a_receipt_that_beats_the_sid_still_finds_its_message(app, member, db):
    key = queued(app, member)
    with db.transaction() as session:  # a worker claimed it, Twilio took it, the worker has not written yet
        session.execute(update(Message).where(Message.id == key[1])
                        .values(status="sending", attempts=1, lease_until=utcnow() + timedelta(seconds=60)))
    post_status(app, {"MessageSid": "SM" + "e" * 32, "MessageStatus": "delivered"}, key)
    message = stored(db, key)
    assert (message.status, message.message_sid, message.lease_until) == ("delivered", "SM" + "e" * 32, None)
    with db.transaction() as session:  # the worker's late write of its answer changes nothing
        delivery.record(session, [(_send_of(message), delivery.Answer(sid="SM" + "e" * 32))], utcnow(), timedelta(seconds=60))
    assert stored(db, key).status == "delivered"


def _send_of(message: Message) -> delivery.Send:
    return delivery.Send((message.tenant_id, message.id), 1, "whatsapp", message.from_number, message.to_number, message.body,
                         [], None, None, None, 0, message.created_at)


def test_a_window_receipt_without_a_template_is_skipped(app, member, db):
    key = push(app, member)
    post_status(app, {"MessageSid": stored(db, key).message_sid, "MessageStatus": "undelivered", "ErrorCode": "63016"}, key)
    assert (stored(db, key).status, stored(db, key).error_code) == ("skipped", "63016")


def test_a_window_receipt_with_a_template_sends_it_once(app, phone, db, capsys):
    load_mama(db, templates={"tier_reached": {"content_sid": TEMPLATE_SID, "variables": ["tier"]}})
    phone(CUSTOMER).send("JOIN MAMA")
    with db.sessions() as session:
        member = session.scalars(select(Customer)).one()
    key = push(app, member)
    receipt = {"MessageSid": stored(db, key).message_sid, "MessageStatus": "failed", "ErrorCode": "63016"}
    post_status(app, receipt, key)
    post_status(app, receipt, key)  # Twilio retries its callbacks
    run_jobs(app)
    with db.sessions() as session:
        resent = session.scalars(select(Message).where(Message.content_sid == TEMPLATE_SID)).all()
    assert [m.status for m in resent] == ["sent"]
    assert stored(db, key).status == "failed"


def test_an_opt_out_receipt_opts_the_customer_out(app, member, db):
    key = push(app, member)
    post_status(app, {"MessageSid": stored(db, key).message_sid, "MessageStatus": "failed", "ErrorCode": "131050"}, key)
    assert (customer_row(db, member).opted_in, customer_row(db, member).opt_out_code) == (False, "131050")


@pytest.mark.parametrize("code", ["30005", "30006"])  # unknown handset; a landline or a carrier that cannot take it
def test_a_receipt_saying_the_number_cannot_get_messages_marks_it_unreachable(app, member, db, code):
    key = push(app, member)
    post_status(app, {"MessageSid": stored(db, key).message_sid, "MessageStatus": "undelivered", "ErrorCode": code}, key)
    assert (stored(db, key).status, customer_row(db, member).unreachable_code) == ("undelivered", code)
    assert stored(db, push(app, member)).error_code == "unreachable"


def test_a_receipt_saying_the_handset_is_switched_off_leaves_the_number_reachable(app, member, db):
    key = push(app, member)
    post_status(app, {"MessageSid": stored(db, key).message_sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}, key)
    assert (stored(db, key).status, stored(db, key).error_code) == ("undelivered", "30003")
    assert customer_row(db, member).unreachable_at is None
    assert stored(db, push(app, member)).status == "sent"


def test_unsigned_delivery_receipts_are_refused(app, member, db):
    key = push(app, member)
    response = app.test_client().post("/webhooks/twilio/status", data={"MessageSid": stored(db, key).message_sid, "MessageStatus": "failed"})
    assert response.status_code == 403
    assert stored(db, key).status == "sent"


# Reconcile and the queue


def test_outbox_flush_requeues_messages_that_never_reached_the_queue(app, member, db):
    lost = queued(app, member, "lost")
    result = app.test_cli_runner().invoke(args=["outbox", "flush", "--older-than", "0"])
    assert result.exit_code == 0, result.output
    assert "Queued 1 message(s)." in result.output
    run_jobs(app)
    assert stored(db, lost).status == "sent"


def test_outbox_reconcile_settles_expired_claims_and_queues_waiting_messages(app, member, db):
    waiting = queued(app, member, "never reached the queue")
    claimed = queued(app, member, "claimed by a worker that died")
    with db.transaction() as session:
        session.execute(update(Message).where(Message.direction == "outbound")
                        .values(enqueued_at=utcnow() - timedelta(hours=1)))
        session.execute(update(Message).where(Message.id == claimed[1])
                        .values(status="sending", attempts=1, lease_until=utcnow() - timedelta(seconds=1)))
    result = app.test_cli_runner().invoke(args=["outbox", "reconcile"])
    assert result.exit_code == 0, result.output
    assert "1 queued again" in result.output and "1 waiting queued again" in result.output
    run_jobs(app)
    assert (stored(db, waiting).status, stored(db, claimed).status) == ("sent", "sent")
    assert stored(db, claimed).attempts == 2
    assert count(db, Message, Message.status == "sending") == 0


def test_a_job_is_written_to_redis_as_rq_itself_writes_it():
    """What our packed commands leave in Redis is what RQ's own enqueue leaves, field for field
    (the times aside, the data as RQ reads it), and RQ fetches the job."""
    ours, rqs = fakeredis.FakeRedis(), fakeredis.FakeRedis()
    keys = [(str(uuid.uuid4()), str(uuid.uuid4())), (str(uuid.uuid4()), str(uuid.uuid4()))]
    script = _JobTemplate(Queue("default", connection=ours), SEND_JOB).script((keys,))
    names = [script.index(b"\r\n%s\r\n" % name) for name in (b"SADD", b"HSET", b"RPUSH")]
    assert names == sorted(names)  # as RQ orders them: the job is whole before it is in the queue
    run_in_order(ours, script)
    (job_id,) = [job_id.decode() for job_id in ours.lrange("rq:queue:default", 0, -1)]
    Queue("default", connection=rqs).enqueue(SEND_JOB, keys, job_id=job_id, description=SEND_JOB, **JOB_OPTIONS[SEND_JOB])
    times = {b"created_at", b"enqueued_at"}

    def fields(redis, data=lambda data: data):  # the job's fields, times aside, the data as RQ reads it
        written = {field: value for field, value in redis.hgetall(f"rq:job:{job_id}").items() if field not in times}
        return {**written, b"data": data(written[b"data"])}

    assert sorted(ours.keys()) == sorted(rqs.keys()) == sorted([b"rq:queues", f"rq:job:{job_id}".encode(), b"rq:queue:default"])
    assert ours.smembers("rq:queues") == rqs.smembers("rq:queues") and ours.lrange("rq:queue:default", 0, -1) == [job_id.encode()]
    assert fields(ours) == fields(rqs, zlib.decompress)
    written = ours.hgetall(f"rq:job:{job_id}")
    assert abs(utcparse(written[b"created_at"].decode()) - rq_now()) < timedelta(seconds=5)
    assert written[b"enqueued_at"] == written[b"created_at"]
    job = Job.fetch(job_id, connection=ours)
    assert (job.func_name, job.args, job.timeout, job.retries_left) == (SEND_JOB, (keys,), 3600, 3)
    assert (job.get_status(), Queue("default", connection=ours).job_ids) == ("queued", [job_id])


# Pacing


def test_pacing_spaces_one_senders_slots_across_workers(app):
    redis = app.extensions["runtime"].redis
    waits = []
    workers = [Pacer(redis, sleep=waits.append), Pacer(redis, sleep=waits.append)]
    for turn in range(6):
        workers[turn % 2].wait_turn("+14155238886", per_second=10)
    assert workers[0].wait_turn("+15550000000", per_second=10) == 0  # another sender is not held up
    # Each reservation waits about 0.1 s more than the one before (a first send goes at once).
    assert len(waits) == 5
    assert all(abs(wait - 0.1 * (i + 1)) < 0.05 for i, wait in enumerate(waits)), waits


def test_a_paced_vendor_sends_no_faster_than_its_rate(twilio_app, db, phone, fake):
    load_mama(db, messages_per_second=20)
    phone(CUSTOMER).send("JOIN MAMA")
    with db.sessions() as session:
        member = session.scalars(select(Customer)).one()
    batch = [queued(twilio_app, member, f"message {i}") for i in range(6)]
    arrivals = []
    fake.on_create = lambda form: arrivals.append(utcnow())
    job(twilio_app, send_batch, keys(*batch))
    # Six slots 1/20 s apart span a quarter of a second (arrivals jitter by the network's delays).
    assert len(arrivals) == 6 and (arrivals[-1] - arrivals[0]).total_seconds() >= 0.22

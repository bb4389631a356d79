"""Broadcasts through the REST API: the broadcast file's shape without `tenant`, validated by the
file's own schema; preview and stats exactly as the commands print them; the lifecycle moves,
idempotent retries, and the audit trail as the key. Another vendor's broadcast is a 404 (with
every other endpoint, in test_api.py's isolation test)."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.services.tenants import load_tenant
from models import ApiIdempotencyKey, AuditLog, Broadcast, BroadcastRecipient, Tenant, Message
from models.base import utcnow
from tests.api_client import Api, api, create_key, salon, salon_api  # noqa: F401 (fixtures)
from tests.conftest import PIN_PEPPER, count, run_jobs, tenant_file
from tests.test_broadcasts import LAGOS, TIERS, add_member, cli, write

DEFINITION = {"name": "Friday double points", "text": "Hi {first_name}! You have {points} points at {vendor}."}
STATS_SHAPE = {"status", "targeted", "sent", "delivered", "read", "failed", "failed_by_code", "skipped", "skipped_by_reason",
               "queued", "replied", "opted_out", "conversions", "pause_reason"}


@pytest.fixture
def mama(db) -> Tenant:
    """The example vendor with tiers, unpaced (its owner can sign in to the dashboard)."""
    with db.transaction() as session:
        return load_tenant(session, tenant_file(tiers=TIERS, messages_per_second=0), pin_pepper=PIN_PEPPER).tenant


def members(db, tenant) -> None:
    """Two recipients (Gold and Silver), and one member for each reason but the weekly cap."""
    add_member(db, tenant, "+2348030000001", name="Ada Obi", points_earned=600, tier="Gold")
    add_member(db, tenant, "+2348030000002", name="Bola Ade", points_earned=100, tier="Silver")
    add_member(db, tenant, "+2348030000003", points_earned=600, tier="Gold", opted_in=False)
    add_member(db, tenant, "+2348030000004", points_earned=600, tier="Gold", wrote_hours_ago=30)  # outside the 24-hour window
    add_member(db, tenant, "+2348030000005", points_earned=600, tier="Gold", unreachable=True)


EVERYONE = {"matched": 5, "suppressed": {"opted_out": 1, "frequency_cap": 0, "outside_window": 1, "unreachable": 1},
            "recipients": 2}


def quiet_now() -> list[str]:
    """Quiet hours the vendor is in now (Lagos time): a launched broadcast waits, still sending."""
    local = utcnow().astimezone(LAGOS)
    return [f"{local - timedelta(hours=1):%H:%M}", f"{local + timedelta(hours=2):%H:%M}"]


def created(api, **changes) -> dict:
    answer = api.post("/broadcasts", {**DEFINITION, **changes})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def move(app, api, broadcast: dict, action: str, **kwargs):
    answer = api.post(f"/broadcasts/{broadcast['id']}/{action}", **kwargs)
    run_jobs(app)  # a launch or a resume hands the broadcast to a runner (with Redis, queued)
    return answer


def audited(db, action: str) -> list[AuditLog]:
    with db.sessions() as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.created_at)))


def test_preview_answers_what_the_command_prints_and_writes_nothing(app, api, db, mama, tmp_path):
    members(db, mama)
    gold = {**DEFINITION, "segment": {"tiers": ["Gold"], "max_points": 1000}}
    answer = api.post("/broadcasts/preview", gold, idempotency_key=None)  # it changes nothing: no key needed
    assert answer.status_code == 200
    printed = cli(app, "preview", "--json", write(tmp_path, {"tenant": "MAMA", **gold}))
    assert answer.get_json() == json.loads(printed.output)
    assert answer.get_json()["recipients"] == 1 and answer.get_json()["matched"] == 4
    assert answer.get_json()["samples"] == [
        {"phone": "+2348030000001", "text": "Hi Ada! You have 650 points at Mama Put Kitchen.\nReply STOP for no more offers."}]
    everyone = api.post("/broadcasts/preview", DEFINITION).get_json()
    assert {key: everyone[key] for key in EVERYONE} == EVERYONE and len(everyone["samples"]) == 2
    assert count(db, Broadcast) == count(db, ApiIdempotencyKey) == count(db, AuditLog, AuditLog.entity_type == "broadcast") == 0


def test_a_read_only_key_previews_and_reads_but_changes_nothing(app, api, db, mama):
    reader = Api(app, create_key(app, "MAMA", "broadcasts:read"))
    broadcast = created(api)
    assert reader.post("/broadcasts/preview", DEFINITION).status_code == 200
    assert reader.get(f"/broadcasts/{broadcast['id']}/stats").status_code == 200
    refused = reader.post("/broadcasts", DEFINITION)
    assert refused.status_code == 403 and refused.get_json()["detail"].startswith("This key may not change broadcasts")
    assert reader.post(f"/broadcasts/{broadcast['id']}/launch").status_code == 403
    assert count(db, Broadcast) == 1 and api.get(f"/broadcasts/{broadcast['id']}").get_json()["status"] == "draft"


@pytest.mark.parametrize("body, errors", [
    ({**DEFINITION, "text": "Hi {firstname}"}, {"text": [
        "unknown variable {firstname}; the variables are first_name, name, points, vendor, member_code, nearest_reward, "
        "points_to_nearest_reward"]}),
    ({**DEFINITION, "segment": {"tiers": ["Platinum"]}}, {"segment": {"tiers": ["no tier named Platinum; MAMA's tiers: Silver, Gold"]}}),
    ({**DEFINITION, "segment": {"min_points": "100"}}, {"segment": {"min_points": ["Not a valid integer."]}}),
    ({**DEFINITION, "send_at": "2020-01-01T09:00"}, "send_at"),
    ({**DEFINITION, "quiet_hours": ["21:00"]}, {"quiet_hours": ['must be two times: [start, end], like ["21:00", "08:00"]']}),
    ({**DEFINITION, "quiet_hours": ["21+01", "08+01"]},  # an offset: the runner reads them in the vendor's timezone
     {"quiet_hours": {"0": ["must be a time like 21:00"], "1": ["must be a time like 21:00"]}}),
    ({**DEFINITION, "tenant": "MAMA"}, {"tenant": ["Unknown field."]}),  # the key says whose it is
    ({"text": "Hi"}, {"name": ["Missing data for required field."]}),
])
@pytest.mark.parametrize("path", ["/broadcasts", "/broadcasts/preview"])
def test_a_bad_definition_names_the_field_and_writes_nothing(api, db, mama, path, body, errors):
    answer = api.post(path, body, idempotency_key="k-1")
    assert answer.status_code == 422 and answer.mimetype == "application/problem+json"
    found = answer.get_json()["errors"]
    assert found == errors if isinstance(errors, dict) else list(found) == [errors]
    assert count(db, Broadcast) == count(db, ApiIdempotencyKey) == count(db, AuditLog, AuditLog.entity_type == "broadcast") == 0


def test_a_broadcast_is_created_as_a_draft_listed_and_audited_as_the_key(app, api, db, mama, clock):
    first = created(api, send_at="2099-12-04T09:00", quiet_hours=["21:00", "08:00"],
                    segment={"tiers": ["Gold"], "min_spent": 1500.5, "phones": ["0803 000 0001"]})
    assert (first["status"], first["targeted"], first["name"]) == ("draft", 0, "Friday double points")
    assert uuid.UUID(first["id"]).version == 7  # as every row's id
    assert first["send_at"] == "2099-12-04T08:00:00+00:00"  # 09:00 in Lagos, in UTC
    assert first["segment"] == {"tiers": ["Gold"], "min_spent": 150050, "phones": ["+2348030000001"]}  # normalised
    assert first["quiet_hours"] == ["21:00", "08:00"]
    clock.advance(seconds=1)
    second = created(api, name="We miss you")
    page = api.get("/broadcasts", limit=1).get_json()
    assert [b["id"] for b in page["data"]] == [second["id"]] and page["next_cursor"]
    rest = api.get("/broadcasts", limit=1, cursor=page["next_cursor"]).get_json()
    assert [b["id"] for b in rest["data"]] == [first["id"]] and rest["next_cursor"] is None
    assert api.get(f"/broadcasts/{first['id']}").get_json() == first
    assert api.get(f"/broadcasts/{uuid.uuid4()}").status_code == 404
    assert api.get("/broadcasts", cursor="nonsense").status_code == 422

    with db.sessions() as session:
        key = session.scalar(select(AuditLog.actor_id).where(AuditLog.action == "broadcast.created"))
    assert [(a.actor_type, a.actor_id, a.entity_id, a.details["before"], a.details["after"]) for a in audited(db, "broadcast.created")] == [
        ("api_key", key, uuid.UUID(first["id"]), None, {"name": "Friday double points", "status": "draft"}),
        ("api_key", key, uuid.UUID(second["id"]), None, {"name": "We miss you", "status": "draft"}),
    ]
    assert key is not None


def test_a_retried_create_or_launch_changes_nothing_twice(app, api, db, mama):
    members(db, mama)
    first = api.post("/broadcasts", DEFINITION, idempotency_key="compose-1")
    retry = api.post("/broadcasts", DEFINITION, idempotency_key="compose-1")
    assert (first.status_code, retry.status_code) == (201, 201) and retry.get_json() == first.get_json()
    assert retry.headers["Idempotent-Replayed"] == "true" and count(db, Broadcast) == 1
    other = api.post("/broadcasts", {**DEFINITION, "name": "Other"}, idempotency_key="compose-1")
    assert other.status_code == 422 and other.get_json()["type"] == "/api/v1/docs#idempotency-key-reused"

    broadcast = first.get_json()
    launched = move(app, api, broadcast, "launch", idempotency_key="launch-1")
    again = move(app, api, broadcast, "launch", idempotency_key="launch-1")
    assert launched.status_code == again.status_code == 200 and again.get_json() == launched.get_json()
    relaunched = move(app, api, broadcast, "launch")  # a new key: launching again changes nothing either
    assert relaunched.status_code == 200 and relaunched.get_json()["status"] == "completed"
    assert count(db, BroadcastRecipient) == 2
    assert count(db, Message, Message.broadcast_id == uuid.UUID(broadcast["id"])) == 2
    assert len(audited(db, "broadcast.sending")) == 1


def test_a_launch_sends_to_each_recipient_once_and_stats_are_the_commands(app, api, db, mama):
    members(db, mama)
    broadcast = created(api)
    launched = move(app, api, broadcast, "launch")
    assert launched.status_code == 200
    assert (launched.get_json()["status"], launched.get_json()["targeted"]) == ("sending", 2)
    assert launched.get_json()["launched_at"] is not None
    stats = api.get(f"/broadcasts/{broadcast['id']}/stats")
    assert stats.status_code == 200
    assert set(stats.get_json()) == STATS_SHAPE
    assert stats.get_json() == json.loads(cli(app, "stats", broadcast["id"], "--json").output)
    result = stats.get_json()
    assert (result["status"], result["targeted"], result["sent"], result["queued"]) == ("completed", 2, 2, 0)
    assert result["targeted"] == result["sent"] + result["failed"] + result["skipped"] + result["queued"]
    assert result["conversions"] == {"purchases": 0, "redemptions": 0, "revenue": 0}
    with db.sessions() as session:
        bodies = session.scalars(select(Message.to_number).where(Message.broadcast_id == uuid.UUID(broadcast["id"]))).all()
    assert sorted(bodies) == ["+2348030000001", "+2348030000002"]

    [sending] = audited(db, "broadcast.sending")
    assert (sending.actor_type, sending.details["before"], sending.details["after"]) == ("api_key", {"status": "draft"}, {"status": "sending"})
    for action in ("pause", "resume"):
        refused = move(app, api, broadcast, action)
        assert refused.status_code == 409 and "is completed" in refused.get_json()["detail"]
    cancelled = move(app, api, broadcast, "cancel")
    assert cancelled.status_code == 409 and cancelled.get_json()["detail"] == "Broadcast 'Friday double points' is already completed."


def test_pause_resume_and_cancel_move_it_along_its_lifecycle(app, api, db, mama):
    members(db, mama)
    broadcast = created(api, quiet_hours=quiet_now())
    assert move(app, api, broadcast, "pause").status_code == 409  # a draft is not sending
    assert move(app, api, broadcast, "launch").get_json()["status"] == "sending"
    paused = move(app, api, broadcast, "pause")
    assert paused.status_code == 200 and (paused.get_json()["status"], paused.get_json()["pause_reason"]) == ("paused", "paused by the vendor")
    assert move(app, api, broadcast, "pause").get_json()["status"] == "paused"  # already: nothing changes
    assert api.get(f"/broadcasts/{broadcast['id']}/stats").get_json()["pause_reason"] == "paused by the vendor"
    resumed = move(app, api, broadcast, "resume")
    assert resumed.status_code == 200 and resumed.get_json()["status"] == "sending"
    cancelled = move(app, api, broadcast, "cancel")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    refused = move(app, api, broadcast, "launch")
    assert refused.status_code == 409 and "was cancelled" in refused.get_json()["detail"]
    assert move(app, api, broadcast, "resume").status_code == 409

    stats = api.get(f"/broadcasts/{broadcast['id']}/stats").get_json()
    assert (stats["targeted"], stats["sent"], stats["skipped_by_reason"]) == (2, 0, {"cancelled": 2})  # quiet hours: none went
    trail = [(a.action, a.actor_type, a.details["before"], a.details["after"]) for a in audited(db, "broadcast.paused")
             + audited(db, "broadcast.resumed") + audited(db, "broadcast.cancelled")]
    assert trail == [
        ("broadcast.paused", "api_key", {"status": "sending"}, {"status": "paused"}),
        ("broadcast.resumed", "api_key", {"status": "paused"}, {"status": "sending"}),
        ("broadcast.cancelled", "api_key", {"status": "sending"}, {"status": "cancelled"}),
    ]


def test_a_broadcast_with_a_send_at_is_scheduled_by_its_launch(app, api, db, mama):
    broadcast = created(api, send_at="2099-12-04T09:00")
    scheduled = move(app, api, broadcast, "launch")
    assert scheduled.get_json()["status"] == "scheduled" and count(db, BroadcastRecipient) == 0
    assert move(app, api, broadcast, "pause").status_code == 409
    assert move(app, api, broadcast, "cancel").get_json()["status"] == "cancelled"

"""The dashboard's broadcasts: the list with figures, composing with a live preview (the vendored
script's endpoint, and the Preview button without it), saving a draft or a schedule, a
broadcast's page with its stats and moves, each change audited as the owner, and nothing of
another vendor's broadcasts."""
from __future__ import annotations

import base64
import re
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from models import AuditLog, Broadcast, Staff
from tests.api_client import Api, create_key
from tests.conftest import count, run_jobs
from tests.test_api_broadcasts import EVERYONE, mama, members, quiet_now  # noqa: F401 (mama is a fixture)
from tests.test_dashboard import ADA, nonce_of, owner, salon, text_of  # noqa: F401 (fixtures)

FORM = {"name": "Friday double points", "text": "Hi {first_name}! You have {points} points at {vendor}."}


def compose(owner, action: str = "save", **fields):
    return owner.post("/dashboard/broadcasts/new", {**FORM, "action": action, **fields})


def live_preview(owner, **fields):
    return owner.post("/dashboard/broadcasts/preview", {**FORM, **fields})


def figure(response, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]*)<', response.get_data(as_text=True))
    assert found, element_id
    return found.group(1)


def the_broadcast(db) -> Broadcast:
    with db.sessions() as session:
        return session.scalars(select(Broadcast)).one()


def saved(owner, db, **fields) -> Broadcast:
    response = compose(owner, **fields)
    assert response.status_code == 302, text_of(response)
    return the_broadcast(db)


def act(app, owner, broadcast: Broadcast, move: str):
    response = owner.post(f"/dashboard/broadcasts/{broadcast.id}/{move}")
    run_jobs(app)  # a launch or a resume hands the broadcast to a runner (with Redis, queued)
    return response


def ada_id(db) -> uuid.UUID:
    with db.sessions() as session:
        return session.scalar(select(Staff.id).where(Staff.phone_number == ADA))


def test_broadcasts_join_the_menu_and_the_list_shows_each_with_its_figures(app, owner, db, mama):
    assert 'href="/dashboard/broadcasts"' in owner.get("/dashboard/").get_data(as_text=True)
    assert "No broadcasts yet" in text_of(owner.get("/dashboard/broadcasts"))
    members(db, mama)
    broadcast = saved(owner, db)
    act(app, owner, broadcast, "launch")
    listed = text_of(owner.get("/dashboard/broadcasts"))
    assert "Friday double points completed" in listed and "2 targeted · 2 sent" in listed
    assert owner.get("/dashboard/broadcasts", query_string={"cursor": "nonsense"}).status_code == 404
    deep = base64.urlsafe_b64encode(b"[" * 5000).decode()  # deeper than Python's stack
    assert owner.get("/dashboard/broadcasts", query_string={"cursor": deep}).status_code == 404


def test_the_compose_page_offers_the_vendors_tiers_and_its_own_script_only(app, owner):
    page = owner.get("/dashboard/broadcasts/new")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'name="tiers" value="Silver"' in html and 'name="tiers" value="Gold"' in html
    assert 'data-preview="/dashboard/broadcasts/preview"' in html
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts == ['<script src="/dashboard/static/compose.js">']  # no inline script: the CSP allows none
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    script = owner.get("/dashboard/static/compose.js")
    assert script.status_code == 200 and "javascript" in script.mimetype and "new FormData(form)" in script.get_data(as_text=True)


def test_the_live_preview_counts_exactly_and_shows_samples(app, owner, db, mama):
    members(db, mama)
    everyone = live_preview(owner)
    assert everyone.status_code == 200
    assert (figure(everyone, "preview-recipients"), figure(everyone, "preview-matched")) == (
        str(EVERYONE["recipients"]), str(EVERYONE["matched"]))
    words = text_of(everyone)
    assert "1 not sent: opted out" in words and "1 not sent: unreachable numbers" in words
    assert "To +2348030000001 Hi Ada! You have 650 points at Mama Put Kitchen." in words
    gold = live_preview(owner, tiers=["Gold"], max_points="1000")
    assert (figure(gold, "preview-recipients"), figure(gold, "preview-matched")) == ("1", "4")
    assert count(db, Broadcast) == count(db, AuditLog, AuditLog.entity_type == "broadcast") == 0


@pytest.mark.parametrize("fields, fix", [
    ({"text": "Hi {firstname}"}, "text"), ({"min_points": "lots"}, "min points"), ({"name": ""}, "name"),
])
def test_the_live_preview_says_what_to_fix_first(app, owner, db, fields, fix):
    answer = live_preview(owner, **fields)
    assert answer.status_code == 200 and f"To see who it reaches, fix: {fix}." in text_of(answer)
    assert "preview-recipients" not in answer.get_data(as_text=True)


def test_the_live_preview_needs_the_sessions_csrf_token(app, owner, db, mama):
    members(db, mama)
    forged = owner.post("/dashboard/broadcasts/preview", {**FORM, "csrf": "0" * 64}, csrf=False)
    assert forged.status_code == 400 and "preview-recipients" not in forged.get_data(as_text=True)


def test_the_preview_button_answers_on_the_server_and_keeps_the_form(app, owner, db, mama):
    members(db, mama)
    page = compose(owner, action="preview", tiers=["Gold"], quiet_start="21:00", quiet_end="08:00")
    assert page.status_code == 200
    assert figure(page, "preview-recipients") == "1"
    html = page.get_data(as_text=True)
    assert 'value="Gold" checked' in html and 'value="21:00"' in html and "Friday double points" in html
    assert count(db, Broadcast) == 0


def test_saving_makes_a_draft_audited_as_the_owner_and_its_page_offers_the_schedule(app, owner, db, mama):
    members(db, mama)
    response = compose(owner, tiers=["Gold"], min_spent="1,500.50", send_at="2099-12-04T09:00", quiet_start="21:00",
                       quiet_end="08:00")
    assert response.status_code == 302 and "done=broadcast_saved" in response.location
    broadcast = the_broadcast(db)
    assert (broadcast.status, broadcast.segment, broadcast.quiet_hours) == (
        "draft", {"tiers": ["Gold"], "min_spent": 150050}, ["21:00", "08:00"])
    assert broadcast.send_at.astimezone(timezone.utc) == datetime(2099, 12, 4, 8, 0, tzinfo=timezone.utc)  # 09:00 in Lagos
    [audit] = count_audits(db, "broadcast.created")
    assert (audit.actor_type, audit.actor_id, audit.details["before"], audit.details["after"]) == (
        "vendor_user", ada_id(db), None, {"name": "Friday double points", "status": "draft"})
    page = owner.get(response.location)
    words = text_of(page)
    assert "Draft saved" in words and "Schedule for 04 Dec 09:00" in words and "Sends 04 Dec 2099 09:00" in words
    assert "tiers: Gold; min spent: ₦1,500.50" in words
    assert figure(page, "reach") == "0"  # no Gold member has spent that much

    scheduled = act(app, owner, broadcast, "launch")
    assert scheduled.status_code == 302 and "done=broadcast_scheduled" in scheduled.location
    assert "Scheduled" in text_of(owner.get(scheduled.location)) and the_broadcast(db).status == "scheduled"


def test_a_draft_saved_twice_is_saved_once(app, owner, db, mama):
    """A double tap on Save, or the browser sending the form again; the Preview button before
    them uses nothing up."""
    once = nonce_of(owner.get("/dashboard/broadcasts/new"))
    assert compose(owner, action="preview", once=once).status_code == 200
    first, again = compose(owner, once=once), compose(owner, once=once)
    assert first.status_code == again.status_code == 302
    assert again.location == first.location.replace("done=broadcast_saved", "done=already_done")
    assert count(db, Broadcast) == len(count_audits(db, "broadcast.created")) == 1


def count_audits(db, action: str) -> list[AuditLog]:
    with db.sessions() as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.created_at)))


@pytest.mark.parametrize("fields, field, words", [
    ({"text": "Hi {firstname}"}, "text", "unknown variable {firstname}"),
    ({"min_points": "lots"}, "min_points", "Please type a whole number"),
    ({"min_points": "500", "max_points": "100"}, "max_points", "must not be below min_points"),
    ({"spent_within_days": "30"}, "spent_within_days", "needs min_spent"),
    ({"min_spent": "a lot"}, "min_spent", "Not a valid number."),
    ({"tiers": ["Platinum"]}, "tiers", "no tier named Platinum"),
    ({"send_at": "2020-01-01T09:00"}, "send_at", "is in the past"),
    ({"quiet_start": "21:00"}, "quiet_hours", "must be a time like 21:00"),
])
@pytest.mark.parametrize("action", ["save", "preview"])
def test_a_bad_form_names_the_field_and_writes_nothing(app, owner, db, action, fields, field, words):
    response = compose(owner, action=action, **fields)
    assert response.status_code == 400
    error = re.search(rf'<span class="field-error" id="{field}-error">([^<]*)<', response.get_data(as_text=True))
    assert error and words in error.group(1)
    assert count(db, Broadcast) == count(db, AuditLog, AuditLog.entity_type == "broadcast") == 0


def test_the_owner_launches_pauses_resumes_and_cancels_from_its_page(app, owner, db, mama):
    members(db, mama)
    broadcast = saved(owner, db, quiet_start=quiet_now()[0], quiet_end=quiet_now()[1])  # it waits: still sending
    page = owner.get(f"/dashboard/broadcasts/{broadcast.id}")
    assert figure(page, "reach") == "2" and re.findall(r'<button type="submit"[^>]* id="(\w+)"', page.get_data(as_text=True)) == [
        "launch", "cancel"]
    assert "Send now" in text_of(page)
    refused = act(app, owner, broadcast, "pause")
    assert refused.status_code == 409 and "only a sending one can be paused" in text_of(refused)

    launched = act(app, owner, broadcast, "launch")
    assert "done=broadcast_sending" in launched.location
    sending = owner.get(launched.location)
    assert figure(sending, "status") == "sending" and figure(sending, "targeted") == "2"
    assert "Launched: the figures fill in" in text_of(sending)
    assert "done=broadcast_paused" in act(app, owner, broadcast, "pause").location
    assert "Paused: paused by the vendor." in text_of(owner.get(f"/dashboard/broadcasts/{broadcast.id}"))
    assert "done=broadcast_sending" in act(app, owner, broadcast, "resume").location
    assert "done=broadcast_cancelled" in act(app, owner, broadcast, "cancel").location
    done = owner.get(f"/dashboard/broadcasts/{broadcast.id}")
    assert figure(done, "status") == "cancelled" and figure(done, "skipped") == "2" and 'id="moves"' not in done.get_data(as_text=True)
    assert "Skipped: cancelled: 2." in text_of(done)
    again = act(app, owner, broadcast, "launch")
    assert again.status_code == 409 and "was cancelled; create it again to send it" in text_of(again)

    trail = [(a.action, a.actor_id, a.details["before"], a.details["after"]) for a in count_audits(db, "broadcast.sending")
             + count_audits(db, "broadcast.paused") + count_audits(db, "broadcast.resumed") + count_audits(db, "broadcast.cancelled")]
    assert trail == [
        ("broadcast.sending", ada_id(db), {"status": "draft"}, {"status": "sending"}),
        ("broadcast.paused", ada_id(db), {"status": "sending"}, {"status": "paused"}),
        ("broadcast.resumed", ada_id(db), {"status": "paused"}, {"status": "sending"}),
        ("broadcast.cancelled", ada_id(db), {"status": "sending"}, {"status": "cancelled"}),
    ]


def test_a_launched_broadcast_shows_how_it_went(app, owner, db, mama):
    members(db, mama)
    broadcast = saved(owner, db)
    act(app, owner, broadcast, "launch")
    page = owner.get(f"/dashboard/broadcasts/{broadcast.id}")
    assert (figure(page, "status"), figure(page, "targeted"), figure(page, "sent")) == ("completed", "2", "2")
    assert 'id="moves"' not in page.get_data(as_text=True) and 'id="reach"' not in page.get_data(as_text=True)


def test_a_session_of_one_vendor_gets_nothing_of_anothers_broadcasts(app, owner, db, mama, salon):
    created = Api(app, create_key(app, "SALON")).post("/broadcasts", {**FORM, "name": "Salon Friday"}).get_json()
    theirs = Broadcast(id=uuid.UUID(created["id"]))
    assert owner.get(f"/dashboard/broadcasts/{theirs.id}").status_code == 404
    for move in ("launch", "pause", "resume", "cancel"):
        assert owner.post(f"/dashboard/broadcasts/{theirs.id}/{move}").status_code == 404
    assert "Salon Friday" not in text_of(owner.get("/dashboard/broadcasts"))
    assert owner.get(f"/dashboard/broadcasts/{uuid.uuid4()}").status_code == 404
    with db.sessions() as session:
        assert session.get(Broadcast, (salon.id, theirs.id)).status == "draft"
        assert session.scalars(select(AuditLog.action).where(AuditLog.tenant_id == salon.id, AuditLog.entity_type == "broadcast",
                                                             AuditLog.actor_type == "vendor_user")).all() == []


def test_quiet_hours_are_read_as_the_runner_reads_them(app, owner, db, mama):
    refused = compose(owner, quiet_start="9:00", quiet_end="03:01")
    assert refused.status_code == 400 and "must be a time like 21:00" in text_of(refused)
    assert saved(owner, db, quiet_start="09:00", quiet_end="03:01").quiet_hours == ["09:00", "03:01"]


def test_line_breaks_from_the_browser_are_kept_as_line_breaks(app, owner, db, mama):
    broadcast = saved(owner, db, text="Hello {first_name}\r\nSee you Friday")
    assert broadcast.text == "Hello {first_name}\nSee you Friday"

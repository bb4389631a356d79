"""The Kannel door: the webhook's shared secret and parameters, then real Kannel (bearerbox,
smsbox and one fakesmsc per carrier) delivering votes as mobile-originated messages."""
from __future__ import annotations

import threading
from dataclasses import replace
from urllib.parse import urlencode

import pytest
from werkzeug.serving import make_server

from bot.app import create_app
from models import SmsVoteLog, Message
from tests import kannel_support as kannel
from tests.conftest import count, make_config
from tests.voting_support import live, load, log_of, results, show, show_file  # noqa: F401 (fixtures)

SECRET = "kannel-test-secret"
APP_PORT = 5620


@pytest.fixture
def gateway(app):
    """The app with KANNEL_SHARED_SECRET set."""
    runtime = app.extensions["runtime"]
    runtime.config = replace(runtime.config, kannel_shared_secret=SECRET)
    return app


def mo(app, key=SECRET, **params):
    """What smsbox sends for one mobile-originated message."""
    query = {"key": key, "from": "85512345678", "to": "1515", "text": "1", "smsc": "smart", "id": "k-1", "ts": "1796468400", **params}
    if key is None:
        del query["key"]
    return app.test_client().get("/webhooks/kannel/inbound?" + urlencode(query))


def test_a_wrong_or_missing_key_is_refused_and_stores_nothing(gateway, show, live, db):
    assert mo(gateway, key="not-the-secret").status_code == 403
    assert mo(gateway, key=None).status_code == 403
    assert mo(gateway, key="").status_code == 403
    assert count(db, SmsVoteLog) == 0 and count(db, Message) == 0


def test_without_a_configured_secret_kannel_is_refused(app, show, live, db):
    assert mo(app, key="").status_code == 403
    assert count(db, SmsVoteLog) == 0


def test_a_vote_is_counted_and_the_reply_is_the_plain_text_body(gateway, show, live, app, db):
    response = mo(gateway, id="k-vote", smsc="Cellcard", to="1516", text="vote 2")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "Thanks! Your vote for Dara Kim (2) is counted."
    row = log_of(db, "k-vote")
    assert (row.phone_number, row.carrier, row.short_code, row.charge_amount) == ("+85512345678", "cellcard", "1516", 25)
    assert results(app)["contestants"][1]["sms"] == 1


def test_a_local_number_is_read_in_the_country_of_the_short_code(gateway, show, live, db):
    assert mo(gateway, id="k-local", **{"from": "012 000 002"}).status_code == 200
    assert log_of(db, "k-local").phone_number == "+85512000002"


def test_a_retry_of_the_same_message_id_is_counted_once(gateway, show, live, app):
    first = mo(gateway, id="k-retry")
    again = mo(gateway, id="k-retry")
    assert first.get_data() == again.get_data() == b"Thanks! Your vote for Sokha Chan (1) is counted."
    assert results(app)["total"] == 1


def test_a_message_without_a_sender_is_a_bad_request(gateway, show, live, db):
    assert mo(gateway, **{"from": ""}).status_code == 400
    assert count(db, SmsVoteLog) == 0


def test_fields_longer_than_kannel_sends_are_a_bad_request(gateway, show, live, db):
    assert mo(gateway, id="k" * 65).status_code == 400
    assert mo(gateway, smsc="s" * 31).status_code == 400
    assert count(db, SmsVoteLog) == 0


@pytest.mark.parametrize("method", ["POST", "HEAD", "OPTIONS", "PUT", "DELETE"])
def test_only_a_get_reaches_the_kannel_webhook(gateway, show, live, db, method):
    query = {"key": SECRET, "from": "85512345678", "to": "1515", "text": "1", "smsc": "smart", "id": "k-method"}
    response = gateway.test_client().open("/webhooks/kannel/inbound?" + urlencode(query), method=method)
    assert response.status_code == 405 and response.headers["Allow"] == "GET"
    assert (response.data == b"") == (method == "HEAD")  # a HEAD answer has no body
    assert count(db, SmsVoteLog) == 0


def test_a_repeated_field_counts_as_its_first_and_a_blank_one_as_missing(gateway, show, live, app, db):
    query = "key=" + SECRET + "&from=85512345678&from=85512000009&to=1515&text=2&smsc=smart&id=k-twice&id=k-other"
    assert gateway.test_client().get("/webhooks/kannel/inbound?" + query).status_code == 200
    assert log_of(db, "k-twice").phone_number == "+85512345678"
    assert mo(gateway, id="k-blank", smsc="").status_code == 400
    assert results(app)["contestants"][1]["sms"] == 1


def test_a_kannel_message_that_cannot_be_handled_is_a_500_and_logged(tmp_path, caplog):
    broken = create_app(make_config(f"sqlite:///{tmp_path / 'no-tables.sqlite3'}"))  # never migrated
    runtime = broken.extensions["runtime"]
    runtime.config = replace(runtime.config, kannel_shared_secret=SECRET)
    try:
        response = mo(broken, id="k-down")
    finally:
        runtime.db.dispose()
    assert response.status_code == 500
    assert "an inbound message failed at /webhooks/kannel/inbound" in caplog.text


# Text in the charset smsbox names: UTF-16BE for UCS-2 (a Khmer keyboard), raw bytes for 8-bit.
KHMER_VOTE = "VOTE ២"  # with the Khmer digit two


def test_a_ucs2_vote_is_read_in_the_charset_kannel_names(gateway, show, live, app, db):
    response = mo(gateway, id="k-ucs2", text=KHMER_VOTE.encode("utf-16-be"), charset="UTF-16BE", coding="2")
    assert response.get_data(as_text=True) == "Thanks! Your vote for Dara Kim (2) is counted."
    assert log_of(db, "k-ucs2").message_content == KHMER_VOTE
    assert results(app)["contestants"][1]["sms"] == 1


def test_binary_data_is_logged_and_answered_not_counted(gateway, show, live, app, db):
    response = mo(gateway, id="k-binary", text=b"\x00\x01\xff\x00", charset="8-BIT", coding="1")
    assert response.status_code == 200 and "Vote for: 1 SOKHA, 2 DARA" in response.get_data(as_text=True)
    row = log_of(db, "k-binary")
    assert (row.status, row.message_content) == ("rejected", "\x01\xff")  # the NULs PostgreSQL cannot store are dropped
    assert results(app)["total"] == 0


def test_without_a_known_charset_the_text_is_read_as_utf8(gateway, show, live, app):
    assert mo(gateway, id="k-old", text="vote 2").status_code == 200  # an sms-service without &charset=%C
    assert mo(gateway, id="k-odd", text="vote 2", charset="X-NOT-A-CHARSET").status_code == 200
    assert results(app)["contestants"][1]["sms"] == 2


def test_a_reply_outside_the_gsm_alphabet_asks_kannel_for_ucs2(gateway, load, live):
    khmer_name = "សុខា ចាន់"
    contestants = show_file()["contestants"]
    load(contestants=[{**contestants[0], "name": khmer_name}, *contestants[1:]])
    khmer = mo(gateway, id="k-khmer-name", text="1")
    assert khmer.get_data(as_text=True) == f"Thanks! Your vote for {khmer_name} (1) is counted."
    assert khmer.headers["X-Kannel-Coding"] == "2" and khmer.mimetype_params["charset"] == "utf-8"
    latin = mo(gateway, id="k-latin-name", text="2")
    assert "X-Kannel-Coding" not in latin.headers


# --- real Kannel ---------------------------------------------------------------------------

# What each carrier's subscribers send: (sender as the SMSC gives it, short code, text, times).
TRAFFIC = {
    "smart": ("85512000001", "1515", "VOTE 1", 4),
    "cellcard": ("012000002", "1516", "2", 3),
    "metfone": ("+85597000003", "1517", "sokha", 2),
}


def require_kannel() -> None:
    missing = [str(path) for path in (kannel.BEARERBOX, kannel.SMSBOX, kannel.FAKESMSC) if not path.exists()]
    assert not missing, f"Kannel is not installed ({', '.join(missing)}): run make system-deps"


@pytest.fixture
def served(gateway):
    """The app on a real port, as smsbox calls it."""
    server = make_server(kannel.HOST, APP_PORT, gateway, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield gateway
    server.shutdown()
    thread.join(timeout=10)


def test_real_kannel_delivers_votes_from_every_carrier_and_sends_the_replies_back(served, show, live, db, tmp_path):
    require_kannel()
    with kannel.running(tmp_path, APP_PORT, SECRET) as gateway:
        expected = [
            (gateway.send(carrier, [f"{sender} {short_code} text {text}"], times), times)
            for carrier, (sender, short_code, text, times) in TRAFFIC.items()
        ]
        replies = gateway.wait_for_replies(expected)
        log = gateway.log()
    assert replies == {
        "smart": ["Thanks! Your vote for Sokha Chan (1) is counted."] * 4,
        "cellcard": ["Thanks! Your vote for Dara Kim (2) is counted."] * 3,
        "metfone": ["Thanks! Your vote for Sokha Chan (1) is counted."] * 2,
    }, log
    tallies = results(served)
    assert [(c["number"], c["votes"], c["sms"], c["unique_voters"]) for c in tallies["contestants"]] == [(1, 6, 6, 2), (2, 3, 3, 1)]
    with db.sessions() as session:
        logged = session.execute(
            SmsVoteLog.__table__.select().with_only_columns(SmsVoteLog.carrier, SmsVoteLog.phone_number, SmsVoteLog.short_code)
        ).all()
    assert sorted(set(map(tuple, logged))) == [
        ("cellcard", "+85512000002", "1516"), ("metfone", "+85597000003", "1517"), ("smart", "+85512000001", "1515"),
    ]
    assert len(logged) == 9  # one row per message, each with its own Kannel message id


def test_real_kannel_reads_a_ucs2_vote_and_sends_a_khmer_reply_as_ucs2(served, load, live, db, tmp_path):
    require_kannel()
    contestants = show_file()["contestants"]
    load(contestants=[contestants[0], {**contestants[1], "name": "ដារា គីម"}])
    khmer_vote = "".join(f"%{byte:02X}" for byte in KHMER_VOTE.encode("utf-16-be"))
    with kannel.running(tmp_path, APP_PORT, SECRET) as gateway:
        smart = gateway.send("smart", [f"85512000001 1515 ucs2 {khmer_vote}"], 1)
        replies = gateway.wait_for_replies([(smart, 1)])
        log = gateway.log()
    assert replies == {"smart": ["Thanks! Your vote for ដារា គីម (2) is counted."]}, log
    with db.sessions() as session:
        assert session.scalars(SmsVoteLog.__table__.select().with_only_columns(SmsVoteLog.message_content)).all() == [KHMER_VOTE]

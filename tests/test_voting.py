"""SMS voting: the show file, routing by the number written to, vote forms, windows, caps,
refusals, HELP/STOP, retries, packages, WhatsApp free votes, results, live tallies and the
carriers' settlement files."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from sqlalchemy import select

from bot.locales import NBSP
from models import Customer, Episode, Show, SmsVoteLog, Tenant, Vote, VoteBalance, VoteOptOut, Message
from tests.conftest import EXAMPLE_TENANT, MAMA_NUMBER, PLATFORM_NUMBER, Phone, count
from tests.voting_support import (  # noqa: F401 (fixtures)
    CELLCARD, FAN_LINE, LIVE, SMART, VIEWER, live, load, log_of, results, show, show_file, votes_for,
)


def sms(phone, to=SMART, number=VIEWER):
    return phone(number, to=to, channel="sms")


# --- the show file ------------------------------------------------------------------------


def test_loading_a_show_twice_changes_nothing(app, tmp_path, db):
    path = tmp_path / "show.json"
    path.write_text(json.dumps(show_file()))
    runner = app.test_cli_runner()
    first = runner.invoke(args=["voting", "load", str(path)])
    assert first.exit_code == 0 and "Created show XFKH." in first.output
    again = runner.invoke(args=["voting", "load", str(path)])
    assert again.exit_code == 0 and "Show XFKH is already up to date." in again.output
    with db.sessions() as session:
        episode = session.scalars(select(Episode)).one()
    assert episode.voting_start.isoformat() == "2026-12-05T12:00:00+00:00"  # 19:00 in Phnom Penh


@pytest.mark.parametrize("content, said", [
    (b"\xef\xbb\xbf" + json.dumps(show_file()).encode(), "Created show XFKH."),  # a BOM, as some editors write
    (json.dumps(show_file(name="Caf\u00e9 Idol"), ensure_ascii=False).encode("latin-1"), "not UTF-8 text"),
    (b"{not json", "not valid JSON"),
])
def test_a_show_file_is_read_as_utf8_json_or_refused_with_a_reason(app, tmp_path, db, content, said):
    path = tmp_path / "show.json"
    path.write_bytes(content)
    outcome = app.test_cli_runner().invoke(args=["voting", "load", str(path)])
    assert said in outcome.output and "Traceback" not in outcome.output
    assert count(db, Show) == (1 if outcome.exit_code == 0 else 0)


def test_an_invalid_show_file_names_each_bad_field_and_writes_nothing(app, tmp_path, db):
    raw = show_file(timezone="Asia/Nowhere")
    raw["episodes"][0]["contestants"] = [1, 7]
    raw["shortcodes"][0]["price"] = 0.255
    raw["contestants"][1]["code"] = "VOTE"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    outcome = app.test_cli_runner().invoke(args=["voting", "load", str(path)])
    assert outcome.exit_code != 0
    assert "timezone: unknown timezone 'Asia/Nowhere'" in outcome.output
    assert "contestants.1.code: VOTE is a voting command" in outcome.output
    assert count(db, Show) == 0


def test_times_names_and_prices_a_show_file_cannot_hold_are_named(app, tmp_path, db):
    raw = show_file(name="X\u0000Factor")
    raw["episodes"][0]["voting_start"] = "0001-01-01T00:00"
    raw["shortcodes"][0]["price"] = 100_000_000
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    outcome = app.test_cli_runner().invoke(args=["voting", "load", str(path)])
    assert outcome.exit_code == 1 and "Traceback" not in outcome.output
    assert "episodes.0.voting_start: must be in the years 2000 to 2999" in outcome.output
    assert "shortcodes.0.price: Must be greater than or equal to 0 and less than or equal to 1000000." in outcome.output
    assert "name: must not contain control characters" in outcome.output
    assert count(db, Show) == 0
    path.write_text(json.dumps(show_file(timezone="localtime", shortcodes=[{**show_file()["shortcodes"][0], "currency": "ZZZ"}])))
    outcome = app.test_cli_runner().invoke(args=["voting", "load", str(path)])
    assert "timezone: 'localtime' names no place" in outcome.output
    assert "shortcodes.0.currency: ZZZ is not an ISO 4217 currency code" in outcome.output


def test_a_show_and_a_vendor_never_share_a_whatsapp_number(app, tmp_path, db, mama):
    runner = app.test_cli_runner()
    path = tmp_path / "show.json"
    path.write_text(json.dumps(show_file(whatsapp_number=PLATFORM_NUMBER)))
    outcome = runner.invoke(args=["voting", "load", str(path)])
    assert outcome.exit_code == 1 and "is the platform's own number" in outcome.output
    path.write_text(json.dumps(show_file(whatsapp_number="+85523900900")))
    assert runner.invoke(args=["voting", "load", str(path)]).exit_code == 0
    vendor = tmp_path / "vendor.json"
    vendor.write_text(json.dumps({**json.loads(EXAMPLE_TENANT.read_text()), "code": "NOODLE", "whatsapp_number": "+85523900900"}))
    refused = runner.invoke(args=["tenants", "load", str(vendor)])
    assert refused.exit_code == 1 and "whatsapp_number: +85523900900 is a TV show's voting number" in refused.output
    assert count(db, Tenant) == 1


def test_episode_and_price_errors_are_named(app, tmp_path, db):
    raw = show_file()
    raw["episodes"][0]["contestants"] = [1, 7]
    raw["shortcodes"][0]["price"] = 0.255
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    outcome = app.test_cli_runner().invoke(args=["voting", "load", str(path)])
    assert outcome.exit_code != 0
    assert "episodes.0.contestants: no contestant numbered 7" in outcome.output
    assert "shortcodes.0.price: has more decimals than the currency allows" in outcome.output
    assert count(db, Show) == 0


def test_a_short_code_of_another_show_is_refused_and_nothing_is_written(load, db):
    load()
    try:
        load(code="XFTH", name="X Factor Thailand", packages=[])
    except ValueError as error:
        assert "shortcodes: already used by another show: 1515, 1516, 1517" in str(error)
    else:
        raise AssertionError("loaded a show over another's short codes")
    assert count(db, Show) == 1


def test_a_contestant_with_votes_cannot_be_dropped(load, phone, live, app):
    load()
    sms(phone).send("2")
    raw = show_file()
    try:
        load(contestants=raw["contestants"][:1], episodes=[{**raw["episodes"][0], "contestants": [1]}])
    except ValueError as error:
        assert "contestant 2 has votes and must stay in the file" in str(error)
    else:
        raise AssertionError("dropped a contestant with votes")
    assert [c["number"] for c in results(app)["contestants"]] == [1, 2]


@pytest.mark.parametrize("codes", [["DARA", "SOKHA"], ["DARA", "DAVY"]])  # swapped; moved along
def test_contestants_codes_can_swap_or_move_along_in_one_load(load, app, tmp_path, db, codes):
    load()
    raw = show_file()
    for contestant, code in zip(raw["contestants"], codes):
        contestant["code"] = code
    path = tmp_path / "show.json"
    path.write_text(json.dumps(raw))
    outcome = app.test_cli_runner().invoke(args=["voting", "load", str(path)])
    assert outcome.exit_code == 0, outcome.output
    assert [(c["number"], c["code"]) for c in results(app)["contestants"]] == [(1, codes[0]), (2, codes[1])]


@pytest.mark.parametrize("dropped_from_the_show", [True, False])
def test_a_server_that_still_routes_a_dropped_contestant_refuses_their_votes(load, live, make_app, app, db, dropped_from_the_show):
    """Another server keeps its table of numbers a moment after a load: a vote there for a
    contestant the load took out of the episode is refused, not counted where no tally sees it."""
    load()
    other = make_app(clock=live)
    other.extensions["router"].clock = lambda: 0.0  # it keeps the table it read at its first vote
    assert "is counted" in Phone(other, "+85512000101", to=SMART, channel="sms").send("1").text
    raw = show_file()
    load(contestants=raw["contestants"][:1] if dropped_from_the_show else raw["contestants"],
         episodes=[{**raw["episodes"][0], "contestants": [1]}])
    refused = Phone(other, "+85512000102", to=SMART, channel="sms").send("2")
    assert refused.text == "No contestant 2 in this vote. Vote for: 1 SOKHA."
    row = log_of(db, refused.sid)
    assert (row.status, row.reason, row.charge_amount) == ("rejected", "unknown_contestant", 0)
    assert results(app)["total"] == count(db, Vote) == 1


# --- routing ---------------------------------------------------------------------------------


def test_a_vote_to_a_short_code_is_counted_and_a_loyalty_message_still_reaches_the_vendor(show, mama, phone, live, app, db):
    vote = sms(phone).send("1")
    assert vote.status == 200 and vote.text == "Thanks! Your vote for Sokha Chan (1) is counted."
    join = phone("+2348031234567").send("JOIN MAMA")
    assert "Welcome to Mama Put Kitchen rewards!" in join.text
    assert votes_for(app, 1) == 1
    assert count(db, Customer) == 1 and count(db, Customer, Customer.phone_number == VIEWER) == 0
    assert count(db, Message, Message.to_number == MAMA_NUMBER) == 1
    assert count(db, SmsVoteLog) == 1


def test_each_carrier_short_code_logs_its_carrier_and_price(show, phone, live, db):
    smart = sms(phone).send("1")
    cellcard = sms(phone, to=CELLCARD, number="+85512000002").send("2")
    for sent, carrier in ((smart, "smart"), (cellcard, "cellcard")):
        row = log_of(db, sent.sid)
        assert (row.carrier, row.charge_amount, row.currency, row.status, row.reason) == (carrier, 25, "USD", "pending", None)


# --- votes ----------------------------------------------------------------------------------


def test_every_vote_form_in_any_case_and_spacing_is_counted(show, phone, live, app):
    forms = ["1", "VOTE 1", "v1", "  vote   sokha ", "Sokha", "V 2", "vote2", "dara!", "VOTE DARA"]
    for i, text in enumerate(forms):
        sent = sms(phone, number=f"+8551200{i:04d}").send(text)
        assert sent.text.startswith("Thanks! Your vote for"), (text, sent.text)
    tallies = results(app)
    assert [(c["votes"], c["sms"], c["unique_voters"]) for c in tallies["contestants"]] == [(5, 5, 5), (4, 4, 4)]
    assert tallies["total"] == len(forms)


def test_outside_the_window_votes_are_refused_with_the_opening_time(show, phone, live, app, db):
    live.advance(hours=-2)  # 18:00 in Phnom Penh, an hour before the lines open
    sent = sms(phone).send("1")
    assert sent.text == "X Factor Cambodia: voting is closed. Lines open 05 Dec at 19:00."
    live.advance(hours=2)  # 20:00: open
    assert "is counted" in sms(phone).send("1").text
    live.advance(hours=1)  # 21:00: the window has ended
    assert sms(phone).send("1").text == "X Factor Cambodia: voting is closed. Thanks for watching!"
    assert votes_for(app, 1) == 1
    row = log_of(db, sent.sid)
    assert (row.status, row.reason, row.charge_amount) == ("rejected", "closed", 0)


def test_an_unknown_contestant_is_refused_with_the_choices(show, phone, live, app, db):
    sent = sms(phone).send("VOTE 7")
    assert sent.text == "No contestant 7 in this vote. Vote for: 1 SOKHA, 2 DARA."
    assert (log_of(db, sent.sid).reason, results(app)["total"]) == ("unknown_contestant", 0)


def test_the_cap_per_episode_holds_and_says_so(load, phone, live, app, db):
    load(max_votes_per_phone_per_episode=3)
    answers = [sms(phone).send("1") for _ in range(4)]
    assert answers[-1].text == "You've used all 3 votes for this episode. Thanks for voting!"
    assert log_of(db, answers[-1].sid).reason == "over_cap"
    assert votes_for(app, 1) == 3


def test_the_cap_per_minute_holds_then_frees_up_the_next_minute(load, phone, live, app, db):
    load(max_votes_per_phone_per_minute=2)
    answers = [sms(phone).send("2") for _ in range(3)]
    assert answers[-1].text == "Slow down: at most 2 votes a minute. Please vote again in a minute."
    assert log_of(db, answers[-1].sid).reason == "too_fast"
    live.advance(minutes=1)
    assert "is counted" in sms(phone).send("2").text
    assert votes_for(app, 2) == 3


def test_the_cap_per_minute_holds_when_servers_clocks_straddle_a_minute(load, make_app, app):
    """One server's clock a little behind another's: a vote stamped with the minute before
    counts against the minute already stored, never starting it again."""
    load(max_votes_per_phone_per_minute=2, max_votes_per_phone_per_episode=50)
    early = make_app(clock=lambda: LIVE + timedelta(seconds=59, milliseconds=900))
    late = make_app(clock=lambda: LIVE + timedelta(seconds=60, milliseconds=100))
    answers = [Phone(server, VIEWER, to=SMART, channel="sms").send("1").text for server in (early, late) * 5]
    assert sum("is counted" in answer for answer in answers) == 3  # 1 in the first minute, 2 in the next
    assert votes_for(app, 1) == 3


def test_help_info_stop_and_start_are_answered_never_charged_nor_counted(show, phone, live, app, db):
    me = sms(phone)
    help_ = me.send("help")
    assert help_.text.startswith("X Factor Cambodia: text a contestant's number to 1515 ($0.25 a vote).")
    assert "Vote for: 1 SOKHA, 2 DARA." in help_.text and "FAN to 1599: 60 votes for $3.99." in help_.text
    assert me.send("INFO").text == help_.text
    stop = me.send("STOP")
    assert stop.text == "X Factor Cambodia: you won't get any more SMS from us. Text START to undo."
    assert count(db, VoteOptOut, VoteOptOut.phone == VIEWER) == 1
    me.send("START")
    assert count(db, VoteOptOut) == 0
    for sent, reason in ((help_, "help"), (stop, "stop")):
        row = log_of(db, sent.sid)
        assert (row.status, row.reason, row.charge_amount) == ("rejected", reason, 0)
    assert results(app)["total"] == 0


def test_a_show_answers_in_its_country_s_language_when_the_bot_speaks_it_else_in_english(load, phone, live, app):
    load()  # Cambodia: the bot has no Khmer
    raw = show_file()
    load(
        code="XFSN", name="X Factor Sénégal", country="SN", timezone="Africa/Dakar", packages=[],
        shortcodes=[{"carrier": "orange", "number": "2121", "price": 100, "currency": "XOF"}],
        episodes=[{**raw["episodes"][0], "voting_start": "2026-12-05T12:00", "voting_end": "2026-12-05T14:00"}],
    )
    assert sms(phone).send("1").text == "Thanks! Your vote for Sokha Chan (1) is counted."
    senegal = sms(phone, to="2121")
    assert senegal.send("1").text == "Merci ! Votre vote pour Sokha Chan (1) est compté."  # the same answer, in French
    assert senegal.send("HELP").text.startswith(f"X Factor Sénégal : envoyez le numéro d'un candidat au 2121 (100{NBSP}FCFA le vote).")
    live.advance(hours=1)  # 14:00 in Dakar: closed
    assert senegal.send("1").text == "X Factor Sénégal : les votes sont clos. Merci d'avoir regardé !"
    assert votes_for(app, 1) == 1


def test_a_show_file_may_name_the_show_s_language_among_those_the_bot_speaks(load, phone, live, app, tmp_path):
    load(language="fr")
    assert sms(phone).send("1").text == "Merci ! Votre vote pour Sokha Chan (1) est compté."
    load()  # without it, its country's
    assert sms(phone).send("2").text == "Thanks! Your vote for Dara Kim (2) is counted."
    path = tmp_path / "show.json"
    path.write_text(json.dumps(show_file(language="km")))
    outcome = app.test_cli_runner().invoke(args=["voting", "load", str(path)])
    assert outcome.exit_code == 1 and "language: Must be one of: en, fr." in outcome.output


def test_a_retried_message_is_counted_once_and_answered_the_same(show, phone, live, app, db):
    me = sms(phone)
    first = me.send("1", sid="SMretry1")
    again = me.send("1", sid="SMretry1")
    assert first.text == again.text == "Thanks! Your vote for Sokha Chan (1) is counted."
    assert votes_for(app, 1) == 1
    assert count(db, SmsVoteLog, SmsVoteLog.carrier_message_id == "SMretry1") == 1


def test_a_retry_after_the_cap_was_reached_still_gets_its_first_answer(load, phone, live, app):
    load(max_votes_per_phone_per_episode=1)
    me = sms(phone)
    first = me.send("1", sid="SMcapretry")
    assert me.send("1", sid="SMcapretry").text == first.text == "Thanks! Your vote for Sokha Chan (1) is counted."
    assert votes_for(app, 1) == 1


def test_every_inbound_message_is_one_log_row(show, phone, live, db):
    texts = ["1", "2", "HELP", "VOTE 9", "hello there", "STOP", "FAN", "VOTE 1 5"]
    for text in texts:
        sms(phone).send(text)
    assert count(db, SmsVoteLog) == len(texts)
    assert count(db, SmsVoteLog, SmsVoteLog.status == "rejected") == 6  # all but the two votes


# --- packages ------------------------------------------------------------------------------


def test_a_package_credits_its_votes_and_bonus_and_is_spent_by_vote_with_a_count(load, phone, live, app, db):
    load(max_votes_per_phone_per_minute=100, max_votes_per_phone_per_episode=100)
    bought = sms(phone, to=FAN_LINE).send("fan")
    assert bought.text == "Thanks! 60 votes added: you have 60 to spend. Send VOTE, the number and how many, e.g. VOTE 1 10."
    row = log_of(db, bought.sid)
    assert (row.carrier, row.charge_amount, row.status) == ("smart", 399, "pending")
    spent = sms(phone).send("VOTE 1 10")
    assert spent.text == "Thanks! 10 votes for Sokha Chan (1) counted. Bought votes left: 50."
    assert (log_of(db, spent.sid).charge_amount, log_of(db, spent.sid).status) == (0, "confirmed")
    too_many = sms(phone).send("VOTE 2 51")
    assert too_many.text == "You have 50 bought votes. Send FAN to 1599 to buy 60."
    assert log_of(db, too_many.sid).reason == "no_package_votes"
    tally = results(app)["contestants"][0]
    assert (tally["votes"], tally["package"], tally["sms"], tally["unique_voters"]) == (10, 10, 0, 1)
    with db.sessions() as session:
        assert session.scalar(select(VoteBalance.votes)) == 50


@pytest.mark.parametrize("text", ["VOTE -1", "VOTE 1.5", "VOTE 1,2", "VOTE ½", "VOTE 1 2.5", "VOTE -1 5", "V+2"])
def test_a_number_with_a_sign_or_a_fraction_is_no_vote_and_spends_nothing(load, phone, live, app, db, text):
    load(max_votes_per_phone_per_minute=100, max_votes_per_phone_per_episode=100)
    sms(phone, to=FAN_LINE).send("FAN")
    answer = sms(phone).send(text)
    assert "Vote for: 1 SOKHA, 2 DARA" in answer.text  # the show's help, not a count
    assert log_of(db, answer.sid).reason == "not_understood"
    assert results(app)["total"] == 0
    with db.sessions() as session:
        assert session.scalar(select(VoteBalance.votes)) == 60


def test_bought_votes_count_against_the_caps_and_are_kept_when_refused(load, phone, live, app, db):
    load(max_votes_per_phone_per_minute=50)
    sms(phone, to=FAN_LINE).send("FAN")
    refused = sms(phone).send("VOTE 1 51")
    assert refused.text == "You've used all 50 votes for this episode. Thanks for voting!"
    with db.sessions() as session:
        assert session.scalar(select(VoteBalance.votes)) == 60
    assert results(app)["total"] == 0


def test_a_package_keyword_to_the_vote_line_is_not_a_purchase(show, phone, live, db):
    sent = sms(phone).send("FAN")
    assert sent.text == "No contestant FAN in this vote. Vote for: 1 SOKHA, 2 DARA."
    assert count(db, VoteBalance) == 0


# --- WhatsApp -------------------------------------------------------------------------------


def test_whatsapp_gives_the_free_votes_per_episode(load, phone, live, app, db):
    load(whatsapp_number="+85523900900")
    me = phone(VIEWER, to="+85523900900", channel="whatsapp")
    first = me.send("VOTE 2")
    assert first.text == "Thanks! Your vote for Dara Kim (2) is counted."
    second = me.send("VOTE 2")
    assert second.text == "You've used your free WhatsApp vote for this episode. To vote again, text 2 to 1515."
    assert (log_of(db, first.sid).carrier, log_of(db, first.sid).charge_amount) == ("whatsapp", 0)
    assert log_of(db, second.sid).reason == "no_free_votes"
    tally = results(app)["contestants"][1]
    assert (tally["votes"], tally["whatsapp"], tally["sms"]) == (1, 1, 0)
    assert count(db, Message) == 0  # not a loyalty conversation


def test_a_whatsapp_only_show_refuses_a_second_vote_without_pointing_at_a_short_code(load, phone, live, db):
    load(whatsapp_number="+85523900900", shortcodes=[], packages=[], whatsapp_free_votes_per_episode=1)
    me = phone(VIEWER, to="+85523900900", channel="whatsapp")
    me.send("VOTE 2")
    assert me.send("VOTE 2").text == "You've used your free WhatsApp vote for this episode. Thanks for voting!"


def test_a_show_that_takes_no_whatsapp_votes_says_so(load, phone, live, db):
    load(whatsapp_number="+85523900900", whatsapp_free_votes_per_episode=0)
    me = phone(VIEWER, to="+85523900900", channel="whatsapp")
    assert me.send("VOTE 2").text == "X Factor Cambodia takes no votes on WhatsApp. To vote, text 2 to 1515."


# --- live tallies and results --------------------------------------------------------------


def test_live_json_has_the_shape_of_results_and_equals_them(show, phone, live, app):
    for i, text in enumerate(["1", "1", "2"]):
        sms(phone, number=f"+8551299{i:04d}").send(text)
    sms(phone, number="+85512990000").send("1")  # the same voter again
    live = app.test_client().get("/voting/xfkh/live.json?episode=1")
    assert live.status_code == 200
    assert live.get_json() == results(app) == {
        "show": "XFKH", "episode": 1, "total": 4,
        "contestants": [
            {"number": 1, "code": "SOKHA", "name": "Sokha Chan", "votes": 3, "unique_voters": 2, "sms": 3, "whatsapp": 0, "package": 0},
            {"number": 2, "code": "DARA", "name": "Dara Kim", "votes": 1, "unique_voters": 1, "sms": 1, "whatsapp": 0, "package": 0},
        ],
    }


def test_the_studio_page_refreshes_itself_from_live_json(show, app):
    page = app.test_client().get("/voting/XFKH/live")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '"/voting/XFKH/live.json"' in html and "setInterval(refresh, 1000)" in html


def test_live_json_of_an_unknown_show_is_404(app):
    assert app.test_client().get("/voting/NOPE/live.json").status_code == 404


def test_a_show_code_no_show_could_have_is_404_before_any_query(app):
    """A NUL cannot even be sent to PostgreSQL in a query."""
    client = app.test_client()
    for path in ("/voting/X%00/live.json", "/voting/X%00/live", "/voting/X.Y/live.json", "/voting/" + "X" * 65 + "/live"):
        assert client.get(path).status_code == 404, path


def test_results_as_a_table(show, phone, live, app):
    sms(phone).send("2")
    outcome = app.test_cli_runner().invoke(args=["voting", "results", "XFKH", "--episode", "1"])
    assert outcome.exit_code == 0
    assert "XFKH episode 1: Live show 1 - 1 votes" in outcome.output
    assert "  2  DARA        Dara Kim                        1        1        1        0        0" in outcome.output


# --- reconciliation ------------------------------------------------------------------------


HEADER = "message_id,msisdn,shortcode,amount,charged_at,status\n"


def settle(app, tmp_path, content: str | bytes, carrier: str = "smart"):
    """`voting reconcile` of a settlement file holding `content` (text, or bytes as they are)."""
    csv = tmp_path / f"{carrier}.csv"
    csv.write_bytes(content if isinstance(content, bytes) else content.encode())
    return app.test_cli_runner().invoke(args=["voting", "reconcile", "--carrier", carrier, str(csv)])


def test_reconcile_confirms_fails_and_reports_the_differences(show, phone, live, app, db, tmp_path):
    charged = sms(phone, number="+85512000001").send("1", sid="SMcharged")
    declined = sms(phone, number="+85512000002").send("2", sid="SMdeclined")
    missing = sms(phone, number="+85512000003").send("2", sid="SMmissing")
    other = sms(phone, to=CELLCARD, number="+85512000004").send("1", sid="SMcellcard")
    settlement = (
        HEADER + "SMcharged,85512000001,1515,0.25,2026-12-05T13:00:05Z,charged\n"
        "SMdeclined,85512000002,1515,0.25,2026-12-05T13:00:06Z,failed\n"
        "SMghost,85512000009,1515,0.25,2026-12-05T13:00:07Z,charged\n"
    )
    outcome = settle(app, tmp_path, settlement)
    assert outcome.exit_code == 0, outcome.output
    assert "smart: 3 settlement rows; 1 confirmed, 1 failed." in outcome.output
    assert "Charged without a log: 1\n  SMghost 85512000009 1515 0.25 2026-12-05 13:00:07" in outcome.output
    assert "Logged without a charge: 1\n  SMmissing +85512000003 1515" in outcome.output
    assert "Revenue (confirmed charges, every carrier):\n  smart      1515             1 messages  $0.25" in outcome.output
    statuses = {sid: log_of(db, sid).status for sid in ("SMcharged", "SMdeclined", "SMmissing", "SMcellcard")}
    assert statuses == {"SMcharged": "confirmed", "SMdeclined": "failed", "SMmissing": "pending", "SMcellcard": "pending"}
    assert settle(app, tmp_path, settlement).output == outcome.output
    assert results(app)["total"] == 4  # billing never changes what was counted
    assert (charged.status, declined.status, missing.status, other.status) == (200, 200, 200, 200)


def test_a_message_listed_more_than_once_counts_once_and_its_latest_row_wins(show, phone, live, app, db, tmp_path):
    for sid in ("SMdup", "SMa", "SMb"):
        sms(phone).send("1", sid=sid)
    charged = "{},85512345678,1515,0.25,2026-12-05T13:00:00Z,charged\n".format
    refunded = "{},85512345678,1515,0.25,2026-12-05T14:00:00Z,refunded\n".format
    outcome = settle(app, tmp_path, HEADER + charged("SMdup") * 2 + charged("SMghost") * 2
                     + charged("SMa") + refunded("SMa") + refunded("SMb") + charged("SMb"))
    assert outcome.exit_code == 0, outcome.output
    assert "smart: 8 settlement rows; 1 confirmed, 2 failed." in outcome.output
    assert "Charged without a log: 1\n  SMghost" in outcome.output
    assert "smart      1515             1 messages  $0.25" in outcome.output
    assert [log_of(db, sid).status for sid in ("SMdup", "SMa", "SMb")] == ["confirmed", "failed", "failed"]


def test_a_bad_settlement_file_names_its_lines_and_changes_nothing(show, phone, live, app, db, tmp_path):
    sms(phone).send("1", sid="SMgood")
    outcome = settle(app, tmp_path, HEADER + "SMgood,85512345678,1515,0.25,2026-12-05T13:00:05Z,charged\n"
                                        "SMbad,85512345678,1515,lots,2026-12-05T13:00:05Z,maybe\n")
    assert outcome.exit_code != 0
    assert "line 3: amount: not a number: 'lots'" in outcome.output
    assert log_of(db, "SMgood").status == "pending"


def test_a_settlement_file_from_a_spreadsheet_with_a_bom_is_read(show, phone, live, app, db, tmp_path):
    sms(phone).send("1", sid="SMbom")
    outcome = settle(app, tmp_path, "\ufeff" + HEADER.replace("\n", "\r\n") + "SMbom,85512345678,1515,0.25,2026-12-05T13:00:05Z,charged\r\n")
    assert outcome.exit_code == 0, outcome.output
    assert log_of(db, "SMbom").status == "confirmed"


def test_amounts_that_are_no_number_and_files_that_are_not_utf8_are_refused(show, phone, live, app, db, tmp_path):
    sms(phone).send("1", sid="SMnan")
    outcome = settle(app, tmp_path, HEADER + "SMnan,85512345678,1515,NaN,2026-12-05T13:00:05Z,charged\n"
                                        "SMinf,85512345678,1515,Infinity,2026-12-05T13:00:05Z,charged\n")
    assert outcome.exit_code == 1 and "Traceback" not in outcome.output
    assert "line 2: amount: not a number: 'NaN'" in outcome.output and "line 3: amount: not a number: 'Infinity'" in outcome.output
    outcome = settle(app, tmp_path, (HEADER + "SMnan,85512345678,1515,0.25,2026-12-05T13:00:05Z,charg\xe9\n").encode("latin-1"))
    assert outcome.exit_code == 1 and "not UTF-8 text" in outcome.output
    assert log_of(db, "SMnan").status == "pending"


def test_settlement_amounts_too_large_or_finer_than_the_currency_are_named_and_change_nothing(show, phone, live, app, db, tmp_path):
    sms(phone).send("1", sid="SMfine")
    line = "{},85512345678,1515,{},2026-12-05T13:00:05Z,charged\n".format
    outcome = settle(app, tmp_path, HEADER + line("SMfine", "1e999999999") + line("SMghost", "1E+1000000"))
    assert outcome.exit_code == 1 and isinstance(outcome.exception, SystemExit), outcome.exception
    assert "line 2: amount: must be at most 1,000,000" in outcome.output and "line 3: amount: must be at most 1,000,000" in outcome.output
    outcome = settle(app, tmp_path, HEADER + line("SMfine", "0.2599") + line("SMghost", "0.2599"))
    assert outcome.exit_code == 1 and isinstance(outcome.exception, SystemExit), outcome.exception
    assert "nothing was changed:\n  line 2: amount: has more decimals than the currency's 2\n" in outcome.output
    assert log_of(db, "SMfine").status == "pending"


def test_settlement_lines_with_times_past_the_calendar_or_control_characters_are_named(show, phone, live, app, db, tmp_path):
    outcome = settle(app, tmp_path, HEADER + "SM1,85512345678,1515,0.25,0001-01-01T00:00:00+05:00,charged\n"
                                        "SM\x002,85512345678,1515,0.25,2026-12-05T13:00:05Z,charged\n")
    assert outcome.exit_code == 1 and "Traceback" not in outcome.output
    assert "line 2: charged_at: must be in the years 2000 to 2999" in outcome.output
    assert "line 3: message_id: has control characters" in outcome.output


def test_an_unknown_carrier_is_refused_and_changes_nothing(show, phone, live, app, db, tmp_path):
    sms(phone).send("1", sid="SMtypo")
    outcome = settle(app, tmp_path, HEADER + "SMtypo,85512345678,1515,0.25,2026-12-05T13:00:05Z,charged\n", carrier="smrt")
    assert outcome.exit_code == 1
    assert "unknown carrier 'smrt' (known: cellcard, metfone, smart)" in outcome.output
    assert log_of(db, "SMtypo").status == "pending"

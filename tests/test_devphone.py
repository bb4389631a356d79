"""The dev phone page and `flask chat`: through the signed webhook, only when asked for (DEV_PHONE=1)
and never with Twilio."""
from __future__ import annotations

from sqlalchemy import select

from bot.outbound import queue_message
from models import Customer, Message
from tests.conftest import count


def test_dev_phone_page_is_served_with_the_console_sender(app, mama):
    response = app.test_client().get("/dev/phone")
    assert response.status_code == 200
    assert 'value="+14155238886"' in response.get_data(as_text=True)


def test_dev_phone_is_not_served_unless_asked_for(make_app):
    server = make_app(dev_phone=False)
    assert server.test_client().get("/dev/phone").status_code == 404
    assert server.test_client().post("/dev/phone/send", json={"from": "+2348031234567", "body": "hi"}).status_code == 404
    assert server.test_client().get("/dev/phone/outbox?phone=%2B2348031234567").status_code == 404


def test_dev_phone_is_not_served_when_twilio_is_configured_even_if_asked_for(make_app):
    real = make_app(dev_phone=True, twilio_account_sid="AC" + "1" * 32)
    assert real.test_client().get("/dev/phone").status_code == 404
    assert real.test_client().post("/dev/phone/send", json={"from": "+2348031234567", "body": "hi"}).status_code == 404


def test_dev_phone_messages_go_through_the_webhook(app, mama, db):
    client = app.test_client()
    response = client.post("/dev/phone/send", json={"from": "+2348031234567", "body": "JOIN MAMA", "name": "Ngozi"})
    assert response.status_code == 200
    bodies = [reply["body"] for reply in response.get_json()["replies"]]
    assert bodies[0] == "Welcome to Mama Put Kitchen rewards!"
    with db.sessions() as session:
        inbound = session.scalars(select(Message)).one()
        assert inbound.message_sid.startswith("SMdev") and inbound.reply[0]["body"] == bodies[0]
        assert session.scalars(select(Customer.whatsapp_name)).one() == "Ngozi"


def test_dev_phone_refuses_a_malformed_phone(app, mama, db):
    response = app.test_client().post("/dev/phone/send", json={"from": "my phone", "body": "JOIN MAMA"})
    assert response.status_code == 400
    assert "international format" in response.get_json()["error"]
    assert count(db, Message) == 0


def test_dev_phone_outbox_lists_messages_sent_to_the_phone(app, mama, db):
    client = app.test_client()
    client.post("/dev/phone/send", json={"from": "+2348031234567", "body": "JOIN MAMA"})
    assert client.get("/dev/phone/outbox?phone=%2B2348031234567").get_json() == {"messages": []}
    with db.transaction() as session:
        customer = session.scalars(select(Customer)).one()
        queue_message(session, [], mama, customer, "Double points today!", triggered_by="test")
    messages = client.get("/dev/phone/outbox?phone=%2B2348031234567").get_json()["messages"]
    assert [(m["body"], m["status"]) for m in messages] == [("Double points today!", "queued")]


def test_chat_command_talks_to_the_bot(app, mama):
    result = app.test_cli_runner().invoke(args=["chat", "--from", "+2348031234567"], input="JOIN MAMA\nBAL\n")
    assert result.exit_code == 0, result.output
    assert "bot> Welcome to Mama Put Kitchen rewards!" in result.output
    assert "bot> *Mama Put Kitchen*\nBalance: 50 points" in result.output


def test_chat_command_wants_an_international_number(app, mama):
    result = app.test_cli_runner().invoke(args=["chat", "--from", "nope"], input="")
    assert result.exit_code != 0
    assert "international format" in result.output


def test_chat_command_reads_to_as_it_reads_from(app, mama):
    runner = app.test_cli_runner()
    spaced = runner.invoke(args=["chat", "--from", "+2348031234567", "--to", "+1 415 523 8886"], input="BAL\n")
    assert "bot> Welcome to *Mama Put Kitchen*! To join its rewards, reply JOIN MAMA." in spaced.output  # MAMA's number
    local = runner.invoke(args=["chat", "--from", "+2348031234567", "--to", "08030000000"], input="JOIN MAMA\n")
    assert local.exit_code == 1 and "Give --to in international format" in local.output


def test_chat_command_links_to_the_dev_server_without_a_public_base_url(make_app, mama):
    result = make_app(public_base_url=None).test_cli_runner().invoke(
        args=["chat", "--from", "+2348030000001"], input="DASHBOARD\n482916\n"  # Ada, the owner
    )
    assert "*Mama Put Kitchen*: http://127.0.0.1:5000/dashboard/login/" in result.output  # where make run serves it


def test_chat_command_says_it_cannot_sign_without_an_auth_token(make_app, mama):
    result = make_app(twilio_auth_token=None).test_cli_runner().invoke(args=["chat", "--from", "+2348031234567"], input="BAL\n")
    assert result.exit_code != 0
    assert "set TWILIO_AUTH_TOKEN" in result.output

"""`chat` and `serve`: talking to the bot from a terminal, and the development server."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

from bot.cli.common import runtime
from bot.devclient import DEV_HOST, DEV_PORT, DevClient
from bot.phones import InvalidPhone, to_e164
from workers.schedule import run_in_process


@click.command(help="Chat with the bot from the terminal, as phone --from, through the signed webhook.")
@with_appcontext
@click.option("--from", "phone", required=True, help="The phone you are, e.g. +2348031234567.")
@click.option("--to", help="The number you write to (default: the first vendor's).")
def chat(phone: str, to: str | None):
    phone, to = _international(phone, "--from"), to and _international(to, "--to")
    if not runtime().config.twilio_auth_token:  # the webhook would refuse every message
        raise click.ClickException("chat signs like Twilio: set TWILIO_AUTH_TOKEN (or DEV_PHONE=1, in development).")
    client = DevClient(current_app)
    seen = {message["id"] for message in client.outbound_to(phone)}
    click.echo(f"You are {phone}. Type a message (Ctrl-D to quit).")
    for line in sys.stdin:
        for reply in client.send(phone, line.rstrip("\n"), to=to):
            click.echo(f"bot> {reply.body}" + "".join(f"\n     [{url}]" for url in reply.media))
        for message in client.outbound_to(phone):
            if message["id"] not in seen:
                seen.add(message["id"])
                click.echo(f"(sent to you) {message['body']}")


def _international(number: str, option: str) -> str:
    try:
        return to_e164(number)
    except InvalidPhone:
        raise click.ClickException(f"Give {option} in international format, like +2348031234567.") from None


@click.command(help="The development server with the dev phone; without Redis it also runs the scheduled jobs in-process.")
@with_appcontext
@click.option("--host", default=DEV_HOST, show_default=True)
@click.option("--port", default=DEV_PORT, show_default=True)
def serve(host: str, port: int):
    app = current_app._get_current_object()
    if not runtime().config.redis_url:
        run_in_process(app)
        click.echo("Scheduled jobs run in this process (no REDIS_URL).")
    run_simple(host, port, app, threaded=True)

"""`flask --app wsgi ...` commands."""
from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from bot import migrate
from bot.devclient import DevClient
from bot.phones import InvalidPhone, to_e164
from bot.qr import poster_png
from bot.services.tenants import TenantFileError, load_tenant, parse_tenant_file
from models import Tenant, WhatsAppMessage
from models.base import utcnow


def _runtime():
    return current_app.extensions["runtime"]


def register(app: Flask) -> None:
    for command in (db, tenants, qr, chat, outbox):
        app.cli.add_command(command)


@click.group(cls=AppGroup, help="Database schema.")
def db():
    pass


@db.command("upgrade", help="Apply the migrations.")
@click.argument("revision", default="head")
def db_upgrade(revision: str):
    migrate.upgrade(_runtime().config.database_url, revision)


@db.command("downgrade", help="Undo migrations down to REVISION.")
@click.argument("revision")
def db_downgrade(revision: str):
    migrate.downgrade(_runtime().config.database_url, revision)


@click.group(cls=AppGroup, help="Vendors.")
def tenants():
    pass


@tenants.command("load", help="Create or update a vendor from a JSON file.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def tenants_load(path: Path):
    try:
        config = parse_tenant_file(json.loads(path.read_text(encoding="utf-8")))
    except json.JSONDecodeError as error:
        raise click.ClickException(f"{path}: not valid JSON ({error})")
    except TenantFileError as error:
        raise click.ClickException(f"{path}: " + "\n  ".join(str(error).split("; ")))
    with _runtime().db.transaction() as session:
        result = load_tenant(session, config)
        code = result.tenant.vendor_code
    if result.created:
        click.echo(f"Created vendor {code}.")
    elif result.changed:
        click.echo(f"Updated vendor {code}: {', '.join(result.changed)}.")
    else:
        click.echo(f"Vendor {code} is already up to date.")


@click.command(help="Write the printable QR poster of vendor CODE.")
@with_appcontext
@click.argument("code")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="PNG file (default CODE.png).")
def qr(code: str, output: Path | None):
    with _runtime().db.sessions() as session:
        tenant = session.scalars(select(Tenant).where(Tenant.vendor_code == code.upper())).one_or_none()
        if tenant is None:
            raise click.ClickException(f"No vendor with code {code.upper()}.")
        png = poster_png(tenant.whatsapp_number, tenant.vendor_code, tenant.name)
    output = output or Path(f"{tenant.vendor_code.lower()}.png")
    output.write_bytes(png)
    click.echo(f"Wrote {output}")


@click.command(help="Chat with the bot from the terminal, as phone --from, through the signed webhook.")
@with_appcontext
@click.option("--from", "phone", required=True, help="The phone you are, e.g. +2348031234567.")
@click.option("--to", help="The number you write to (default: the first vendor's).")
def chat(phone: str, to: str | None):
    try:
        phone = to_e164(phone)
    except InvalidPhone:
        raise click.ClickException("Give --from in international format, like +2348031234567.")
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


@click.group(cls=AppGroup, help="Outbound messages.")
def outbox():
    pass


@outbox.command("flush", help="Queue again the outbound messages that never reached the job queue.")
@click.option("--older-than", default=60, show_default=True, help="Seconds a message must have waited.")
def outbox_flush(older_than: int):
    rt = _runtime()
    with rt.db.sessions() as session:
        keys = session.execute(
            select(WhatsAppMessage.tenant_id, WhatsAppMessage.id).where(
                WhatsAppMessage.direction == "outbound",
                WhatsAppMessage.status == "queued",
                WhatsAppMessage.created_at < utcnow() - timedelta(seconds=older_than),
            )
        ).all()
    rt.deliver([tuple(key) for key in keys])
    click.echo(f"Queued {len(keys)} message(s).")

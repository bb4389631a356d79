"""`flask --app wsgi ...` commands."""
from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select

from bot import migrate
from bot.devclient import DevClient
from bot.phones import InvalidPhone, to_e164
from bot.qr import FORMATS, PAPER_MM, poster_png, print_poster
from bot.services.points import ledger_mismatches
from bot.services.spins import spin_mismatches
from bot.services.staff import set_pin
from bot.services.onboarding import InviteError, invite
from bot.services.tenants import ReloadRefused, TenantFileError, export_tenant, load_tenant, parse_tenant_file
from models import CustomerPointsBalance, Tenant, VendorUser, WhatsAppMessage
from models.base import utcnow
from workers.points import expire_points
from workers.redemptions import expire_redemptions


def _runtime():
    return current_app.extensions["runtime"]


def register(app: Flask) -> None:
    for command in (db, tenants, vendors, staff, ledger, redemptions, qr, chat, outbox):
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
@click.option("--force", is_flag=True, help="Also change the currency or country of a vendor with history, or remove all its staff.")
def tenants_load(path: Path, force: bool):
    try:
        config = parse_tenant_file(_read_json(path))
        with _runtime().db.transaction() as session:
            result = load_tenant(session, config, force=force)
            code = result.tenant.vendor_code
    except ReloadRefused as error:
        raise click.ClickException(
            f"{path} would rewrite the existing vendor {error.vendor}:\n  " + _lines(error)
            + "\nNothing was written. If the file is meant for that vendor, load it again with --force."
        ) from None
    except TenantFileError as error:  # invalid, or at odds with what the database holds
        raise click.ClickException(f"{path}: " + _lines(error)) from None
    if result.created:
        click.echo(f"Created vendor {code}.")
    elif result.changed:
        click.echo(f"Updated vendor {code}: {', '.join(result.changed)}.")
    else:
        click.echo(f"Vendor {code} is already up to date.")


def _read_json(path: Path):
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise click.ClickException(f"{path}: not UTF-8 text") from None
    except RecursionError:
        raise click.ClickException(f"{path}: not valid JSON (nested too deeply)") from None
    except json.JSONDecodeError as error:
        raise click.ClickException(f"{path}: not valid JSON ({error})") from None


def _lines(error: TenantFileError) -> str:
    return "\n  ".join(error.lines)


@tenants.command("export", help="Write vendor CODE's tenant file, as `tenants load` takes it back.")
@click.argument("code")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="JSON file (default code.json).")
def tenants_export(code: str, output: Path | None):
    with _runtime().db.sessions() as session:
        tenant = session.scalars(select(Tenant).where(Tenant.vendor_code == code.upper())).one_or_none()
        if tenant is None:
            raise click.ClickException(f"No vendor with code {code.upper()}.")
        exported = export_tenant(session, tenant)
    output = output or Path(f"{tenant.vendor_code.lower()}.json")
    output.write_text(json.dumps(exported, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    click.echo(f"Wrote {output}")


@click.group(cls=AppGroup, help="Vendors joining the platform.")
def vendors():
    pass


@vendors.command("invite", help="Invite the owner of a new shop to set it up by chatting; prints the link to send them.")
@click.argument("phone", nargs=-1, required=True)  # spaces allowed: 0803 123 4567
@click.option("--country", help="The shop's country (two letters, e.g. NG): reads a local PHONE, and is the setup's default.")
def vendors_invite(phone: tuple[str, ...], country: str | None):
    platform_number = _runtime().config.platform_whatsapp_number
    if not platform_number:
        raise click.ClickException("Set PLATFORM_WHATSAPP_NUMBER: vendors set up by chatting with that number.")
    try:
        with _runtime().db.transaction() as session:
            invited = invite(session, " ".join(phone), country, platform_number, utcnow())
    except InviteError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Invitation for {invited.phone}, valid until {invited.expires_at:%Y-%m-%d %H:%M} UTC. Send them this link:")
    click.echo(invited.link)


@click.group(cls=AppGroup, help="Vendors' staff.")
def staff():
    pass


@staff.command("pin", help="Set or reset a staff member's PIN (asked for, never on the command line).")
@click.option("--tenant", "code", required=True, help="The vendor's code, e.g. MAMA.")
@click.option("--phone", required=True, help="The staff member's phone, local or international.")
@click.password_option("--pin", prompt="New PIN", help="Prompted for; 4 to 8 digits.")
def staff_pin(code: str, phone: str, pin: str):
    with _runtime().db.transaction() as session:
        tenant = session.scalars(select(Tenant).where(Tenant.vendor_code == code.upper())).one_or_none()
        if tenant is None:
            raise click.ClickException(f"No vendor with code {code.upper()}.")
        try:
            phone = to_e164(phone, tenant.country)
        except InvalidPhone:
            raise click.ClickException(f"{phone} is not a phone number in {tenant.country}.") from None
        user = session.scalars(
            select(VendorUser).where(VendorUser.tenant_id == tenant.id, VendorUser.phone_number == phone)
        ).one_or_none()
        if user is None:
            raise click.ClickException(f"{phone} is not on {tenant.vendor_code}'s staff.")
        try:
            set_pin(session, user, pin)
        except ValueError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"PIN set for {user.full_name} ({phone}).")


@click.group(cls=AppGroup, help="The points ledger.")
def ledger():
    pass


@ledger.command("expire", help="Expire what is left of the points past their expiry date.")
def ledger_expire():
    click.echo(f"Expired {expire_points():,} point(s).")


@ledger.command("check", help="Verify every balance (points and spins) equals its ledger; exit 1 on any mismatch.")
def ledger_check():
    started = time.perf_counter()
    with _runtime().db.sessions() as session:
        mismatches = ledger_mismatches(session)
        spins = spin_mismatches(session)
        customers = session.scalar(select(func.count()).select_from(CustomerPointsBalance))
    for m in mismatches[:50]:
        click.echo(f"MISMATCH tenant {m.tenant_id} customer {m.customer_id}: balance {m.balance}, ledger {m.ledger}, lots {m.lots}")
    for m in spins[:50]:
        click.echo(f"MISMATCH tenant {m.tenant_id} customer {m.customer_id}: spins {m.spins}, spin ledger {m.ledger}")
    elapsed = time.perf_counter() - started
    click.echo(f"Checked {customers:,} balances in {elapsed:.2f}s: {len(mismatches) + len(spins)} mismatch(es).")
    if mismatches or spins:
        sys.exit(1)


@click.group(cls=AppGroup, help="Reward redemptions.")
def redemptions():
    pass


@redemptions.command("expire", help="Expire pending codes past their validity: refund, restock, tell the customer.")
def redemptions_expire():
    click.echo(f"Expired {expire_redemptions()} redemption(s).")


@click.command(help="Write vendor CODE's QR poster: a small PNG, or with --poster a print poster (PDF or PNG at 300 dpi, by -o's extension).")
@with_appcontext
@click.argument("code")
@click.option("--poster", "paper", type=click.Choice(sorted(PAPER_MM), case_sensitive=False), help="Paper size of a print poster.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File (default code.png, or code-a5.pdf).")
def qr(code: str, paper: str | None, output: Path | None):
    fmt = output.suffix.lstrip(".").lower() if output else ("pdf" if paper else "png")
    if fmt not in (FORMATS if paper else ("png",)):
        kind, formats = ("A print poster", " or ".join(FORMATS)) if paper else ("Without --poster, the poster", "png")
        raise click.ClickException(f"{kind} is written as {formats}, not {output.name}.")
    with _runtime().db.sessions() as session:
        tenant = session.scalars(select(Tenant).where(Tenant.vendor_code == code.upper())).one_or_none()
        if tenant is None:
            raise click.ClickException(f"No vendor with code {code.upper()}.")
        if paper:
            picture = print_poster(tenant, paper.lower(), fmt)
        else:
            picture = poster_png(tenant.whatsapp_number, tenant.vendor_code, tenant.name)
    output = output or Path(f"{tenant.vendor_code.lower()}{f'-{paper.lower()}' if paper else ''}.{fmt}")
    output.write_bytes(picture)
    click.echo(f"Wrote {output}")


@click.command(help="Chat with the bot from the terminal, as phone --from, through the signed webhook.")
@with_appcontext
@click.option("--from", "phone", required=True, help="The phone you are, e.g. +2348031234567.")
@click.option("--to", help="The number you write to (default: the first vendor's).")
def chat(phone: str, to: str | None):
    try:
        phone = to_e164(phone)
    except InvalidPhone:
        raise click.ClickException("Give --from in international format, like +2348031234567.") from None
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

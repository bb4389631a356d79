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
from bot.money import format_money
from bot.phones import InvalidPhone, to_e164
from bot.qr import poster_png
from bot.services.points import ledger_mismatches
from bot.services.reconcile import SettlementError, parse_settlement, reconcile
from bot.services.shows import ShowFileError, load_show, parse_show_file
from bot.services.spins import spin_mismatches
from bot.services.staff import set_pin
from bot.services.onboarding import InviteError, invite
from bot.services.tenants import ReloadRefused, TenantFileError, export_tenant, load_tenant, parse_tenant_file
from bot.services.votes import find_episode, tally
from models import CustomerPointsBalance, Tenant, VendorUser, WhatsAppMessage
from models.base import utcnow
from workers.points import expire_points
from workers.redemptions import expire_redemptions


def _runtime():
    return current_app.extensions["runtime"]


def register(app: Flask) -> None:
    for command in (db, tenants, vendors, staff, ledger, redemptions, qr, chat, outbox, voting):
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


@click.group(cls=AppGroup, help="SMS voting for TV shows.")
def voting():
    pass


@voting.command("load", help="Create or update a show from a JSON file.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def voting_load(path: Path):
    try:
        config = parse_show_file(json.loads(path.read_text(encoding="utf-8")))
        with _runtime().db.transaction() as session:
            result = load_show(session, config)
            code = result.show.code
    except json.JSONDecodeError as error:
        raise click.ClickException(f"{path}: not valid JSON ({error})") from None
    except ShowFileError as error:  # invalid, or at odds with what the database holds
        raise click.ClickException(f"{path}: " + "\n  ".join(str(error).split("; "))) from None
    current_app.extensions["router"].forget()
    if result.created:
        click.echo(f"Created show {code}.")
    elif result.changed:
        click.echo(f"Updated show {code}: {', '.join(result.changed)}.")
    else:
        click.echo(f"Show {code} is already up to date.")


@voting.command("results", help="Votes per contestant of an episode, counted from the database.")
@click.argument("code")
@click.option("--episode", "number", type=int, required=True, help="The episode's number.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, the shape of /voting/CODE/live.json.")
def voting_results(code: str, number: int, as_json: bool):
    code = code.upper()
    with _runtime().db.sessions() as session:
        episode = find_episode(session, code, number, utcnow())
        if episode is None:
            raise click.ClickException(f"No episode {number} of a show {code}.")
        results = tally(session.connection(), code, episode)
        title = episode.title
    if as_json:
        click.echo(json.dumps(results))
        return
    click.echo(f"{code} episode {number}: {title} - {results['total']:,} votes")
    click.echo(f"{'#':>3}  {'code':<12}{'name':<24}{'votes':>9}{'voters':>9}{'sms':>9}{'whatsapp':>9}{'package':>9}")
    for c in results["contestants"]:
        click.echo(f"{c['number']:>3}  {c['code']:<12}{c['name'][:23]:<24}{c['votes']:>9,}{c['unique_voters']:>9,}"
                   f"{c['sms']:>9,}{c['whatsapp']:>9,}{c['package']:>9,}")


@voting.command("reconcile", help="Apply a carrier's settlement CSV: confirm or fail logged messages, report differences.")
@click.option("--carrier", required=True, help="The carrier the file is from, e.g. smart.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def voting_reconcile(carrier: str, path: Path):
    carrier = carrier.lower()
    try:
        with path.open(newline="", encoding="utf-8") as file:
            settlements = parse_settlement(file)
    except SettlementError as error:
        raise click.ClickException(f"{path}: nothing was changed:\n  " + "\n  ".join(error.problems[:50])) from None
    with _runtime().db.transaction() as session:
        report = reconcile(session, carrier, settlements)
        uncharged = [(log.carrier_message_id, log.phone_number, log.short_code, log.created_at) for log in report.uncharged]
    click.echo(f"{carrier}: {len(settlements):,} settlement rows; {report.confirmed:,} confirmed, {report.failed:,} failed.")
    _listing(f"Charged without a log: {len(report.unlogged):,}",
             [f"{s.message_id} {s.msisdn} {s.shortcode} {s.amount} {s.charged_at:%Y-%m-%d %H:%M:%S}" for s in report.unlogged])
    _listing(f"Logged without a charge: {len(uncharged):,}",
             [f"{message_id} {phone} {short_code} {created:%Y-%m-%d %H:%M:%S}" for message_id, phone, short_code, created in uncharged])
    _listing(f"Charged another amount than logged: {len(report.amount_differs):,}",
             [f"{s.message_id} charged {s.amount}, logged {logged}" for s, logged in report.amount_differs])
    click.echo("Revenue (confirmed charges, every carrier):")
    for carrier_name, short_code, currency, messages, amount in report.revenue:
        click.echo(f"  {carrier_name:<10} {short_code:<8} {messages:>9,} messages  {format_money(amount, currency)}")


def _listing(title: str, lines: list[str], limit: int = 50) -> None:
    click.echo(title)
    for line in lines[:limit]:
        click.echo(f"  {line}")
    if len(lines) > limit:
        click.echo(f"  ... and {len(lines) - limit:,} more")

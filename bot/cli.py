"""`flask --app wsgi ...` commands."""
from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select
from werkzeug.serving import run_simple

from api.machinery import scopes as api_scopes
from bot import migrate
from bot.devclient import DevClient
from bot.money import format_money
from bot.phones import InvalidPhone, to_e164
from bot.qr import FORMATS, PAPER_MM, poster_png, print_poster
from bot.services.apikeys import create_key, list_keys, revoke_key
from bot.services import broadcasts as broadcasting
from bot.services import metrics as daily_metrics
from bot.services.broadcast_file import BroadcastFileError, Definition, parse as parse_broadcast, tenant_of
from bot.services.points import ledger_mismatches
from bot.services.reconcile import SettlementError, parse_settlement, reconcile as reconcile_settlements
from bot.services.shows import ShowFileError, load_show, parse_show_file
from bot.services.spins import spin_mismatches
from bot.services.staff import set_pin
from bot.services.onboarding import InviteError, invite
from bot.services.tenant_file import TenantFileError, parse_tenant_file
from bot.services.tenants import ReloadRefused, export_tenant, load_tenant
from bot.services.votes import find_episode, tally
from models import CustomerPointsBalance, Tenant, VendorUser, WhatsAppMessage
from models.base import utcnow
from workers.broadcasts import hand_over
from workers.outbound import reconcile
from workers.points import expire_points
from workers.redemptions import expire_redemptions
from workers.schedule import run_in_process
from workers.scheduled import send_reminders


def _runtime():
    return current_app.extensions["runtime"]


def register(app: Flask) -> None:
    for command in (
        db, tenants, vendors, staff, ledger, redemptions, qr, chat, outbox, reminders, metrics, broadcasts, serve, apikeys,
        voting,
    ):
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
            result = load_tenant(session, config, force=force, pin_pepper=_runtime().config.pin_pepper)
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
            set_pin(session, user, pin, _runtime().config.pin_pepper)
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


@outbox.command("reconcile", help="Settle claims whose lease ran out (look them up at Twilio) and queue again what waits.")
def outbox_reconcile():
    tally = reconcile()
    click.echo("Reconciled: " + (", ".join(f"{n} {what}" for what, n in tally.items()) or "nothing to do") + ".")


@click.group(cls=AppGroup, help="Points-expiry reminders.")
def reminders():
    pass


@reminders.command("send", help="Queue the expiry reminders due now (each vendor once a day, from 10:00 its time).")
@click.option("--tenant", "code", help="Only this vendor.")
def reminders_send(code: str | None):
    click.echo(f"Queued {send_reminders(tenant_code=code)} expiry reminder(s).")


@click.group(cls=AppGroup, help="Daily metrics.")
def metrics():
    pass


@metrics.command("daily", help="Compute (again) a day's figures per vendor and print them.")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="The day (default: yesterday, in each vendor's timezone).")
@click.option("--tenant", "code", help="Only this vendor.")
def metrics_daily(day, code: str | None):
    rt = _runtime()
    now = rt.clock()
    rows = []
    with rt.db.transaction() as session:
        query = select(Tenant).order_by(Tenant.vendor_code)
        if code:
            query = query.where(Tenant.vendor_code == code.upper())
        for tenant in session.scalars(query):
            date = day.date() if day else daily_metrics.yesterday(tenant, now)
            rows.append((tenant.vendor_code, date.isoformat(), daily_metrics.compute(session, tenant, date, now)))
    if not rows:
        raise click.ClickException(f"No vendor with code {code.upper()}." if code else "No vendors yet.")
    _print_table(["vendor", "date", *daily_metrics.FIGURES], [[c, d, *f.values()] for c, d, f in rows])


def _print_table(header: list[str], rows: list[list]) -> None:
    cells = [header] + [[f"{v:,}" if isinstance(v, int) else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        click.echo("  ".join(cell.rjust(width) if i > 1 else cell.ljust(width) for i, (cell, width) in enumerate(zip(row, widths))))


@click.group(cls=AppGroup, help="Broadcasts: a message to a segment of a vendor's members.")
def broadcasts():
    pass


def _definition(session, path: Path, tenant: Tenant | None = None):
    """The vendor (named by the file, or the one given) and the file's broadcast, validated."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        tenant = tenant or tenant_of(session, raw)
        return tenant, parse_broadcast(session, raw, tenant, utcnow())
    except json.JSONDecodeError as error:
        raise click.ClickException(f"{path}: not valid JSON ({error})") from None
    except BroadcastFileError as error:
        raise click.ClickException(f"{path}: " + "\n  ".join(str(error).split("; "))) from None


def _moved(move, broadcast_id, past: str) -> None:
    """Run a lifecycle move in its transaction, say what happened, then hand it to a runner."""
    rt = _runtime()
    try:
        with rt.db.transaction() as session:
            tenant, _ = broadcasting.find(session, broadcast_id)
            moved = move(session, tenant, broadcast_id, utcnow())
            zone = tenant.timezone
    except broadcasting.BroadcastError as error:
        raise click.ClickException(str(error)) from None
    broadcast = moved.broadcast
    if broadcast.status == "scheduled":
        click.echo(f"Broadcast {broadcast.name!r} is scheduled for {_local(broadcast.send_at, zone)} ({zone}).")
    elif moved.moved and broadcast.status == "sending" and past == "launched":
        click.echo(f"Broadcast {broadcast.name!r} is sending to {broadcast.total_recipients:,} member(s).")
    else:
        click.echo(f"Broadcast {broadcast.name!r} {past if moved.moved else 'was already ' + broadcast.status}.")
    hand_over(rt, moved)


def _local(moment, zone: str) -> str:
    return f"{moment.astimezone(ZoneInfo(zone)):%d %b %Y %H:%M}" if moment else "-"


_SUPPRESSED = {"opted_out": "opted out", "frequency_cap": "had their week's offers", "outside_window":
               "outside WhatsApp's 24-hour window (no template)", "unreachable": "unreachable numbers"}
_SKIPPED = {**_SUPPRESSED, "no_template": "outside WhatsApp's 24-hour window (no template)", "cancelled": "cancelled"}


@broadcasts.command("preview", help="Who a broadcast file would reach now, and three of its messages.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def broadcasts_preview(path: Path, as_json: bool):
    with _runtime().db.sessions() as session:
        tenant, definition = _definition(session, path)
        result = broadcasting.preview(session, tenant, definition, utcnow())
    if as_json:
        click.echo(json.dumps(result.as_json(), ensure_ascii=False))
        return
    click.echo(f"{definition.name!r} for {tenant.vendor_code}: {result.matched:,} member(s) match.")
    for reason, count in result.suppressed.items():
        if count:
            click.echo(f"  not sent, {_SUPPRESSED[reason]}: {count:,}")
    click.echo(f"Recipients: {result.recipients:,}.")
    for sample in result.samples:
        click.echo(f"\nTo {sample['phone']}:\n{sample['text']}")


@broadcasts.command("create", help="Create a draft broadcast from a file; prints its id on the last line.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def broadcasts_create(path: Path):
    with _runtime().db.transaction() as session:
        tenant, definition = _definition(session, path)
        recipients = broadcasting.preview(session, tenant, definition, utcnow()).recipients
        broadcast = broadcasting.create(session, tenant, definition, utcnow())
    _created(broadcast, tenant, recipients)


def _created(broadcast, tenant: Tenant, recipients: int) -> None:
    when = f"at {_local(broadcast.send_at, tenant.timezone)} ({tenant.timezone})" if broadcast.send_at else "when launched"
    click.echo(f"Draft {broadcast.name!r} for {tenant.vendor_code}: {recipients:,} recipient(s) today, sent {when}. "
               f"Launch it with: flask --app wsgi broadcasts launch {broadcast.id}")
    click.echo(str(broadcast.id))


@broadcasts.command("launch", help="Send a draft now, or schedule it for its send_at.")
@click.argument("broadcast_id", type=click.UUID)
def broadcasts_launch(broadcast_id):
    _moved(broadcasting.launch, broadcast_id, "launched")


@broadcasts.command("pause", help="Pause a sending broadcast (what is queued waits).")
@click.argument("broadcast_id", type=click.UUID)
def broadcasts_pause(broadcast_id):
    _moved(broadcasting.pause, broadcast_id, "is paused")


@broadcasts.command("resume", help="Resume a paused broadcast.")
@click.argument("broadcast_id", type=click.UUID)
def broadcasts_resume(broadcast_id):
    _moved(broadcasting.resume, broadcast_id, "is sending again")


@broadcasts.command("cancel", help="Cancel a broadcast: nothing more of it is sent.")
@click.argument("broadcast_id", type=click.UUID)
def broadcasts_cancel(broadcast_id):
    _moved(broadcasting.cancel, broadcast_id, "is cancelled")


@broadcasts.command("stats", help="How a broadcast did: sends, receipts, replies, conversions.")
@click.argument("broadcast_id", type=click.UUID)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def broadcasts_stats(broadcast_id, as_json: bool):
    try:
        with _runtime().db.sessions() as session:
            tenant, _ = broadcasting.find(session, broadcast_id)
            result = broadcasting.stats(session, tenant, broadcast_id)
    except broadcasting.BroadcastError as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps(result.as_json(), ensure_ascii=False))
        return
    click.echo(f"{result.name!r} ({tenant.vendor_code}) is {result.status}.")
    if result.pause_reason:
        click.echo(f"Paused: {result.pause_reason}.")
    click.echo(f"Targeted {result.targeted:,}: {result.sent:,} sent ({result.delivered:,} delivered, {result.read:,} read), "
               f"{result.failed:,} failed, {result.skipped:,} skipped, {result.queued:,} still to go.")
    if result.failed_by_code:
        click.echo("Failed, by Twilio's error code: " + ", ".join(f"{code}: {n:,}" for code, n in sorted(result.failed_by_code.items())) + ".")
    if result.skipped_by_reason:
        click.echo("Skipped: " + ", ".join(f"{_SKIPPED.get(reason, reason)}: {n:,}" for reason, n in sorted(result.skipped_by_reason.items())) + ".")
    click.echo(f"Within 72 hours: {result.replied:,} replied, {result.opted_out:,} opted out.")
    conversions = result.conversions
    click.echo(f"Within 7 days: {conversions['purchases']:,} purchase(s) worth {format_money(conversions['revenue'], tenant.currency)}, "
               f"{conversions['redemptions']:,} reward(s) redeemed.")


@broadcasts.command("list", help="Broadcasts, newest first.")
@click.option("--tenant", "code", help="Only this vendor.")
def broadcasts_list(code: str | None):
    with _runtime().db.sessions() as session:
        tenant = None
        if code:
            tenant = session.scalars(select(Tenant).where(Tenant.vendor_code == code.upper())).one_or_none()
            if tenant is None:
                raise click.ClickException(f"No vendor with code {code.upper()}.")
        zones = {t.id: (t.vendor_code, t.timezone) for t in session.scalars(select(Tenant))}
        rows = [[str(b.id), zones[b.tenant_id][0], b.name, b.status, _local(b.send_at, zones[b.tenant_id][1]),
                 b.total_recipients, _local(b.created_at, zones[b.tenant_id][1])]
                for b in broadcasting.list_broadcasts(session, tenant)]
    if not rows:
        click.echo("No broadcasts yet.")
        return
    _print_table(["id", "vendor", "name", "status", "send at", "targeted", "created"], rows)


@broadcasts.command("retarget", help="A follow-up draft (FILE) to the recipients of ID who did not read it, or did not reply.")
@click.argument("broadcast_id", type=click.UUID)
@click.option("--not-read", "retarget", flag_value="not_read", help="Recipients who did not read it.")
@click.option("--not-replied", "retarget", flag_value="not_replied", help="Recipients who did not reply within 72 hours.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def broadcasts_retarget(broadcast_id, retarget: str | None, path: Path):
    if retarget is None:
        raise click.UsageError("Say whom to follow up: --not-read or --not-replied.")
    try:
        with _runtime().db.transaction() as session:
            tenant, _ = broadcasting.find(session, broadcast_id)
            tenant, definition = _definition(session, path, tenant)
            broadcast = broadcasting.retarget(session, tenant, broadcast_id, retarget, definition, utcnow())
            recipients = broadcasting.preview(session, tenant, Definition.of(broadcast), utcnow()).recipients
    except broadcasting.BroadcastError as error:
        raise click.ClickException(str(error)) from None
    _created(broadcast, tenant, recipients)


@click.command(help="The development server with the dev phone; without Redis it also runs the scheduled jobs in-process.")
@with_appcontext
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def serve(host: str, port: int):
    app = current_app._get_current_object()
    if not _runtime().config.redis_url:
        run_in_process(app)
        click.echo("Scheduled jobs run in this process (no REDIS_URL).")
    run_simple(host, port, app, threaded=True)


@click.group(cls=AppGroup, help="Vendors' keys to the REST API (/api/v1).")
def apikeys():
    pass


def _vendor(session, code: str) -> Tenant:
    tenant = session.scalars(select(Tenant).where(Tenant.vendor_code == code.upper())).one_or_none()
    if tenant is None:
        raise click.ClickException(f"No vendor with code {code.upper()}.")
    return tenant


@apikeys.command("create", help="Make a key for a vendor. It is shown once, alone on the last line; only its hash is kept.")
@click.option("--tenant", "code", required=True, help="The vendor's code, e.g. MAMA.")
@click.option("--name", required=True, help='What the key is for, e.g. "till 1".')
@click.option("--scope", "scopes", multiple=True,
              help="Limit the key to a resource (customers) or to reading it (customers:read); repeat for several. "
                   "Default: everything.")
def apikeys_create(code: str, name: str, scopes: tuple[str, ...]):
    unknown = sorted(set(scopes) - set(api_scopes()))
    if unknown:
        raise click.ClickException(f"Unknown scope {', '.join(unknown)}. Known: {', '.join(api_scopes())}.")
    if not 1 <= len(name.strip()) <= 100:
        raise click.ClickException("--name must be 1 to 100 characters.")
    rt = _runtime()
    with rt.db.transaction() as session:
        tenant = _vendor(session, code)
        new = create_key(session, tenant, name.strip(), list(scopes), rt.clock())
    allowed = ", ".join(new.key.scopes) or "everything"
    click.echo(f"API key {new.key.prefix}... for {tenant.vendor_code} ({new.key.name}), scopes: {allowed}.")
    click.echo("It is shown only now: store it where the till or integration keeps secrets.")
    click.echo(new.secret)


@apikeys.command("list", help="The keys (prefix, name, scopes, last used), all vendors' or one's.")
@click.option("--tenant", "code", help="Only this vendor's keys.")
def apikeys_list(code: str | None):
    with _runtime().db.sessions() as session:
        tenant = _vendor(session, code) if code else None
        keys = list_keys(session, tenant)

    def when(moment):
        return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"

    for key, vendor in keys:
        state = f"revoked {when(key.revoked_at)}" if key.revoked_at else f"last used {when(key.last_used_at)}"
        click.echo(f"{vendor:<8} {key.prefix}...  {key.name!r:<24} {','.join(key.scopes) or 'everything':<28} "
                   f"created {when(key.created_at)}  {state}")
    if not keys:
        click.echo("No API keys.")


@apikeys.command("revoke", help="Revoke a vendor's key, named by its prefix (as `apikeys list` shows it).")
@click.option("--tenant", "code", required=True, help="The vendor's code, e.g. MAMA.")
@click.argument("prefix")
def apikeys_revoke(code: str, prefix: str):
    rt = _runtime()
    with rt.db.transaction() as session:
        tenant = _vendor(session, code)
        revoked = revoke_key(session, tenant, prefix.rstrip("."), rt.clock())
    if not revoked:
        raise click.ClickException(f"{tenant.vendor_code} has no live key starting {prefix}.")
    for key in revoked:
        click.echo(f"Revoked {key.prefix}... ({key.name}).")
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
        report = reconcile_settlements(session, carrier, settlements)
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

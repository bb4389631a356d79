"""`broadcasts`: a message to a segment of a vendor's members, from its file to its stats."""
from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask.cli import AppGroup
from sqlalchemy import select

from bot.cli.common import print_table, read_json_file, runtime, tenant_by_code
from bot.money import format_money
from bot.services import broadcasts as broadcasting
from bot.services.broadcast_file import BroadcastFileError, parse as parse_broadcast, tenant_of
from bot.services.broadcasts import BroadcastService
from bot.services.context import Context
from models import Tenant
from models.base import utcnow


@click.group(cls=AppGroup, help="Broadcasts: a message to a segment of a vendor's members.")
def broadcasts():
    pass


def _definition(session, path: Path, tenant: Tenant | None = None):
    """The vendor (named by the file, or the one given) and the file's broadcast, validated."""
    raw = read_json_file(path)
    try:
        tenant = tenant or tenant_of(session, raw)
        return tenant, parse_broadcast(session, raw, tenant, utcnow())
    except BroadcastFileError as error:
        raise click.ClickException(f"{path}: " + "\n  ".join(str(error).split("; "))) from None


def _service(session, tenant: Tenant) -> BroadcastService:
    return BroadcastService(Context.at(session, tenant, utcnow()))


def _moved(move: str, broadcast_id, past: str) -> None:
    """Run a lifecycle move in its transaction, say what happened, then hand it to a runner."""
    rt = runtime()
    try:
        with rt.db.transaction() as session:
            tenant = broadcasting.owner_of(session, broadcast_id)
            moved = _service(session, tenant).move(broadcast_id, move)
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
    rt.start_runners([moved])


def _local(moment, zone: str) -> str:
    return f"{moment.astimezone(ZoneInfo(zone)):%d %b %Y %H:%M}" if moment else "-"



@broadcasts.command("preview", help="Who a broadcast file would reach now, and three of its messages.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def broadcasts_preview(path: Path, as_json: bool):
    with runtime().db.sessions() as session:
        tenant, definition = _definition(session, path)
        result = _service(session, tenant).preview(definition)
    if as_json:
        click.echo(json.dumps(result.as_json(), ensure_ascii=False))
        return
    click.echo(f"{definition.name!r} for {tenant.vendor_code}: {result.matched:,} member(s) match.")
    for reason, count in result.suppressed.items():
        if count:
            click.echo(f"  not sent, {broadcasting.REASONS[reason]}: {count:,}")
    click.echo(f"Recipients: {result.recipients:,}.")
    for sample in result.samples:
        click.echo(f"\nTo {sample['phone']}:\n{sample['text']}")


@broadcasts.command("create", help="Create a draft broadcast from a file; prints its id on the last line.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def broadcasts_create(path: Path):
    with runtime().db.transaction() as session:
        tenant, definition = _definition(session, path)
        service = _service(session, tenant)
        recipients = service.preview(definition).recipients
        broadcast = service.create(definition)
    _created(broadcast, tenant, recipients)


def _created(broadcast, tenant: Tenant, recipients: int) -> None:
    when = f"at {_local(broadcast.send_at, tenant.timezone)} ({tenant.timezone})" if broadcast.send_at else "when launched"
    click.echo(f"Draft {broadcast.name!r} for {tenant.vendor_code}: {recipients:,} recipient(s) today, sent {when}. "
               f"Launch it with: flask --app wsgi broadcasts launch {broadcast.id}")
    click.echo(str(broadcast.id))


@broadcasts.command("launch", help="Send a draft now, or schedule it for its send_at.")
@click.argument("broadcast_id", type=click.UUID)
def broadcasts_launch(broadcast_id):
    _moved("launch", broadcast_id, "launched")


@broadcasts.command("pause", help="Pause a sending broadcast (what is queued waits).")
@click.argument("broadcast_id", type=click.UUID)
def broadcasts_pause(broadcast_id):
    _moved("pause", broadcast_id, "is paused")


@broadcasts.command("resume", help="Resume a paused broadcast.")
@click.argument("broadcast_id", type=click.UUID)
def broadcasts_resume(broadcast_id):
    _moved("resume", broadcast_id, "is sending again")


@broadcasts.command("cancel", help="Cancel a broadcast: nothing more of it is sent.")
@click.argument("broadcast_id", type=click.UUID)
def broadcasts_cancel(broadcast_id):
    _moved("cancel", broadcast_id, "is cancelled")


@broadcasts.command("stats", help="How a broadcast did: sends, receipts, replies, conversions.")
@click.argument("broadcast_id", type=click.UUID)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def broadcasts_stats(broadcast_id, as_json: bool):
    try:
        with runtime().db.sessions() as session:
            tenant = broadcasting.owner_of(session, broadcast_id)
            result = _service(session, tenant).stats(broadcast_id)
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
        click.echo("Skipped: " + ", ".join(f"{broadcasting.REASONS.get(reason, reason)}: {n:,}" for reason, n in sorted(result.skipped_by_reason.items())) + ".")
    click.echo(f"Within 72 hours: {result.replied:,} replied, {result.opted_out:,} opted out.")
    conversions = result.conversions
    click.echo(f"Within 7 days: {conversions['purchases']:,} purchase(s) worth {format_money(conversions['revenue'], tenant.currency)}, "
               f"{conversions['redemptions']:,} reward(s) redeemed.")


@broadcasts.command("list", help="Broadcasts, newest first.")
@click.option("--tenant", "code", help="Only this vendor.")
def broadcasts_list(code: str | None):
    with runtime().db.sessions() as session:
        tenant = tenant_by_code(session, code) if code else None
        zones = {t.id: (t.vendor_code, t.timezone) for t in session.scalars(select(Tenant))}
        rows = [[str(b.id), zones[b.tenant_id][0], b.name, b.status, _local(b.send_at, zones[b.tenant_id][1]),
                 b.total_recipients, _local(b.created_at, zones[b.tenant_id][1])]
                for b in broadcasting.list_broadcasts(session, tenant)]
    if not rows:
        click.echo("No broadcasts yet.")
        return
    print_table(["id", "vendor", "name", "status", "send at", "targeted", "created"], rows)


@broadcasts.command("retarget", help="A follow-up draft (FILE) to the recipients of ID who did not read it, or did not reply.")
@click.argument("broadcast_id", type=click.UUID)
@click.option("--not-read", "retarget", flag_value="not_read", help="Recipients who did not read it.")
@click.option("--not-replied", "retarget", flag_value="not_replied", help="Recipients who did not reply within 72 hours.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def broadcasts_retarget(broadcast_id, retarget: str | None, path: Path):
    if retarget is None:
        raise click.UsageError("Say whom to follow up: --not-read or --not-replied.")
    try:
        with runtime().db.transaction() as session:
            tenant, definition = _definition(session, path, broadcasting.owner_of(session, broadcast_id))
            service = _service(session, tenant)
            broadcast = service.retarget(broadcast_id, retarget, definition)
            recipients = service.reach(broadcast)
    except broadcasting.BroadcastError as error:
        raise click.ClickException(str(error)) from None
    _created(broadcast, tenant, recipients)

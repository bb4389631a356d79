"""`outbox`: outbound messages that wait."""
from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import AppGroup
from sqlalchemy import select

from bot.cli.common import runtime
from models import Message
from models.base import utcnow
from workers.outbound import reconcile


@click.group(cls=AppGroup, help="Outbound messages.")
def outbox():
    pass


@outbox.command("flush", help="Queue again the outbound messages that never reached the job queue.")
@click.option("--older-than", default=60, show_default=True, type=click.IntRange(0, 10 * 365 * 24 * 3600),
              help="Seconds a message must have waited.")
def outbox_flush(older_than: int):
    rt = runtime()
    with rt.db.sessions() as session:
        keys = session.execute(
            select(Message.tenant_id, Message.id).where(
                Message.direction == "outbound",
                Message.status == "queued",
                Message.created_at < utcnow() - timedelta(seconds=older_than),
            )
        ).all()
    rt.deliver([tuple(key) for key in keys])
    click.echo(f"Queued {len(keys)} message(s).")


@outbox.command("reconcile", help="Settle claims whose lease ran out (look them up at Twilio) and queue again what waits.")
def outbox_reconcile():
    tally = reconcile()
    click.echo("Reconciled: " + (", ".join(f"{n} {what}" for what, n in tally.items()) or "nothing to do") + ".")

"""`reminders`: points-expiry reminders."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from bot.cli.common import runtime, tenant_by_code
from workers.scheduled import send_reminders


@click.group(cls=AppGroup, help="Points-expiry reminders.")
def reminders():
    pass


@reminders.command("send", help="Queue the expiry reminders due now (each vendor once a day, from 10:00 its time).")
@click.option("--tenant", "code", help="Only this vendor.")
def reminders_send(code: str | None):
    if code:
        with runtime().db.sessions() as session:
            tenant_by_code(session, code)  # an unknown code stops here, as everywhere
    click.echo(f"Queued {send_reminders(tenant_code=code)} expiry reminder(s).")

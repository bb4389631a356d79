"""`flask --app wsgi ...` commands: one module per group, beside its feature's services."""
from __future__ import annotations

from flask import Flask

from bot.cli import (
    apikeys, broadcasts, db, dev, ledger, metrics, outbox, qr, redemptions, reminders, staff, tenants, vendors, voting,
)


def register(app: Flask) -> None:
    for command in (
        db.db, tenants.tenants, vendors.vendors, staff.staff, ledger.ledger, redemptions.redemptions, qr.qr, dev.chat,
        outbox.outbox, reminders.reminders, metrics.metrics, broadcasts.broadcasts, dev.serve, apikeys.apikeys,
        voting.voting,
    ):
        app.cli.add_command(command)

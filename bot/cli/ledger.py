"""`ledger`: points expiry, and the check that every balance equals its ledger."""
from __future__ import annotations

import sys
import time

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from bot.cli.common import runtime
from bot.services.points import ledger_mismatches
from bot.services.spins import spin_mismatches
from models import CustomerPointsBalance
from workers.points import expire_points


@click.group(cls=AppGroup, help="The points ledger.")
def ledger():
    pass


@ledger.command("expire", help="Expire what is left of the points past their expiry date.")
def ledger_expire():
    click.echo(f"Expired {expire_points():,} point(s).")


@ledger.command("check", help="Verify every balance (points and spins) equals its ledger; exit 1 on any mismatch.")
def ledger_check():
    started = time.perf_counter()
    with runtime().db.sessions() as session:
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

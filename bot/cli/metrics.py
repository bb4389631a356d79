"""`metrics`: the daily figures."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from bot.cli.common import print_table, runtime
from bot.money import format_money
from bot.services.context import Context
from bot.services.metrics import FIGURES, MetricsService, yesterday
from bot.services.tenant_file import YEARS, YEARS_RULE
from models import Tenant


@click.group(cls=AppGroup, help="Daily metrics.")
def metrics():
    pass


@metrics.command("daily", help="Compute (again) a day's figures per vendor and print them.")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="The day (default: yesterday, in each vendor's timezone).")
@click.option("--tenant", "code", help="Only this vendor.")
def metrics_daily(day, code: str | None):
    if day and day.year not in YEARS:
        raise click.BadParameter(YEARS_RULE, param_hint="--date")
    rt = runtime()
    now = rt.clock()
    rows = []
    with rt.db.transaction() as session:
        query = select(Tenant).order_by(Tenant.vendor_code)
        if code:
            query = query.where(Tenant.vendor_code == code.upper())
        for tenant in session.scalars(query):
            date = day.date() if day else yesterday(tenant, now)
            figures = MetricsService(Context.at(session, tenant, now)).compute(date)
            figures["revenue"] = format_money(figures["revenue"], tenant.currency)  # stored in minor units
            rows.append([tenant.vendor_code, date.isoformat(), *figures.values()])
    if not rows:
        raise click.ClickException(f"No vendor with code {code.upper()}." if code else "No vendors yet.")
    print_table(["vendor", "date", *FIGURES], rows)

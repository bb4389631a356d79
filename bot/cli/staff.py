"""`staff`: a staff member's PIN."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from bot.cli.common import runtime, tenant_by_code
from bot.phones import InvalidPhone, to_e164
from bot.services.context import Context
from bot.services.team import TeamService


@click.group(cls=AppGroup, help="Vendors' staff.")
def staff():
    pass


@staff.command("pin", help="Set or reset a staff member's PIN (asked for, never on the command line).")
@click.option("--tenant", "code", required=True, help="The vendor's code, e.g. MAMA.")
@click.option("--phone", required=True, help="The staff member's phone, local or international.")
def staff_pin(code: str, phone: str):
    pin = click.prompt("New PIN", hide_input=True, confirmation_prompt=True)  # never an option: not in shell history or ps
    rt = runtime()
    with rt.db.transaction() as session:
        tenant = tenant_by_code(session, code)
        try:
            phone = to_e164(phone, tenant.country)
        except InvalidPhone:
            raise click.ClickException(f"{phone} is not a phone number in {tenant.country}.") from None
        team = TeamService(Context.at(session, tenant, rt.clock(), pin_pepper=rt.config.pin_pepper))
        try:
            user = team.set_pin(phone, pin)
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        if user is None:
            raise click.ClickException(f"{phone} is not on {tenant.vendor_code}'s staff.")
    click.echo(f"PIN set for {user.full_name} ({phone}).")

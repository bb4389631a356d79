"""`staff`: a staff member's PIN."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
    with _team(code) as team:  # a wrong vendor or phone is said before the PIN is typed twice
        country = team.ctx.tenant.country
        try:
            phone = to_e164(phone, country)
        except InvalidPhone:
            raise click.ClickException(f"{phone} is not a phone number in {country}.") from None
        team.pin_holder(phone)
    pin = click.prompt("New PIN", hide_input=True, confirmation_prompt=True)
    with _team(code) as team:  # a transaction of its own: none is held open while the operator types
        user = team.set_pin(phone, pin)
    click.echo(f"PIN set for {user.full_name} ({phone}).")


@contextmanager
def _team(code: str) -> Iterator[TeamService]:
    """The vendor's team in a transaction; what it refuses (a ValueError saying why) stops the
    command with that message."""
    rt = runtime()
    try:
        with rt.db.transaction() as session:
            tenant = tenant_by_code(session, code)
            yield TeamService(Context.at(session, tenant, rt.clock(), pin_pepper=rt.config.pin_pepper))
    except ValueError as error:
        raise click.ClickException(str(error)) from None

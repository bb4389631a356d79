"""`vendors`: inviting a new shop's owner to set it up by chat."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from bot.cli.common import runtime
from bot.services.onboarding import InviteError, invite
from models.base import utcnow


@click.group(cls=AppGroup, help="Vendors joining the platform.")
def vendors():
    pass


@vendors.command("invite", help="Invite the owner of a new shop to set it up by chatting; prints the link to send them.")
@click.argument("phone", nargs=-1, required=True)  # spaces allowed: 0803 123 4567
@click.option("--country", help="The shop's country (two letters, e.g. NG): reads a local PHONE, and is the setup's default.")
def vendors_invite(phone: tuple[str, ...], country: str | None):
    platform_number = runtime().config.platform_whatsapp_number
    if not platform_number:
        raise click.ClickException("Set PLATFORM_WHATSAPP_NUMBER: vendors set up by chatting with that number.")
    try:
        with runtime().db.transaction() as session:
            invited = invite(session, " ".join(phone), country, platform_number, utcnow())
    except InviteError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Invitation for {invited.phone}, valid until {invited.expires_at:%Y-%m-%d %H:%M} UTC. Send them this link:")
    click.echo(invited.link)

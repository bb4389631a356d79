"""`redemptions`: reward codes past their validity."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from workers.redemptions import expire_redemptions


@click.group(cls=AppGroup, help="Reward redemptions.")
def redemptions():
    pass


@redemptions.command("expire", help="Expire pending codes past their validity: refund, restock, tell the customer.")
def redemptions_expire():
    click.echo(f"Expired {expire_redemptions()} redemption(s).")

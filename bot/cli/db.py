"""`db`: the database schema."""
from __future__ import annotations

import click
from alembic.util import CommandError
from flask.cli import AppGroup

from bot import migrate
from bot.cli.common import runtime


@click.group(cls=AppGroup, help="Database schema.")
def db():
    pass


@db.command("upgrade", help="Apply the migrations.")
@click.argument("revision", default="head")
def db_upgrade(revision: str):
    try:
        migrate.upgrade(runtime().config.database_url, revision)
    except CommandError as error:  # an unknown revision, say
        raise click.ClickException(str(error)) from None


@db.command("downgrade", help="Undo migrations down to REVISION.")
@click.argument("revision")
def db_downgrade(revision: str):
    try:
        migrate.downgrade(runtime().config.database_url, revision)
    except CommandError as error:
        raise click.ClickException(str(error)) from None

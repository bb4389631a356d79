"""`db`: the database schema."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from bot import migrate
from bot.cli.common import runtime


@click.group(cls=AppGroup, help="Database schema.")
def db():
    pass


@db.command("upgrade", help="Apply the migrations.")
@click.argument("revision", default="head")
def db_upgrade(revision: str):
    migrate.upgrade(runtime().config.database_url, revision)


@db.command("downgrade", help="Undo migrations down to REVISION.")
@click.argument("revision")
def db_downgrade(revision: str):
    migrate.downgrade(runtime().config.database_url, revision)

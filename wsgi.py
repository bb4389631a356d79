"""Entry point for gunicorn (`wsgi:app`) and the flask CLI (`flask --app wsgi ...`)."""
import click

from bot.app import create_app
from bot.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    # Said in one line by every flask command (click's "Error: ...", exit 1) rather than after a
    # traceback; gunicorn's workers still fail to boot on it, so the server does not start.
    raise click.ClickException(str(error)) from None

"""Entry point for gunicorn (`wsgi:app`) and the flask CLI (`flask --app wsgi ...`)."""
import gc

import click

from bot.app import create_app
from bot.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    # Said in one line by every flask command (click's "Error: ...", exit 1) rather than after a
    # traceback; gunicorn's workers still fail to boot on it, so the server does not start.
    raise click.ClickException(str(error)) from None

# What the app keeps for its life (modules, the statements built at import, the catalog) leaves
# the collector's generations: a full collection then walks only what requests made since,
# about 2 ms instead of 90-180 ms during which every request on the worker waited (the p99
# tail). The garbage of loading goes first, or it would stay for good.
gc.collect()
gc.freeze()

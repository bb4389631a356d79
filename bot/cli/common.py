"""What the command groups share: the app's runtime, a vendor by its code, a JSON file read, what a
load did, a table."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.json_input import parse_json
from bot.runtime import Runtime
from models import Tenant


def runtime() -> Runtime:
    return current_app.extensions["runtime"]


def tenant_by_code(session: Session, code: str) -> Tenant:
    """The vendor with this code (any case); a command naming none stops with a message."""
    tenant = session.scalars(select(Tenant).where(Tenant.vendor_code == code.upper())).one_or_none()
    if tenant is None:
        raise click.ClickException(f"No vendor with code {code.upper()}.")
    return tenant


def read_json_file(path: Path):
    """A JSON file's content; a file that is not UTF-8 or not JSON stops with a message. A BOM
    (what some editors on Windows write first) is allowed."""
    try:
        return parse_json(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise click.ClickException(f"{path}: not UTF-8 text") from None
    except ValueError as error:  # not JSON, nested too deeply, or JSON holding no text
        raise click.ClickException(f"{path}: not valid JSON ({error})") from None


def write_output(path: Path, content: bytes) -> None:
    """Write what a command made to `path`; a folder that is not there, or one not writable, stops
    with a message."""
    try:
        path.write_bytes(content)
    except OSError as error:
        raise click.ClickException(f"{path}: cannot write it ({error.strerror})") from None
    click.echo(f"Wrote {path}")


def echo_loaded(what: str, code: str, created: bool, changed: list[str]) -> None:
    """What loading a file did: `vendor` or `show` created, updated (and what), or left alone."""
    if created:
        click.echo(f"Created {what} {code}.")
    elif changed:
        click.echo(f"Updated {what} {code}: {', '.join(changed)}.")
    else:
        click.echo(f"{what.capitalize()} {code} is already up to date.")


def print_table(header: list[str], rows: list[list]) -> None:
    cells = [header] + [[f"{v:,}" if isinstance(v, int) else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        click.echo("  ".join(cell.rjust(width) if i > 1 else cell.ljust(width) for i, (cell, width) in enumerate(zip(row, widths))))

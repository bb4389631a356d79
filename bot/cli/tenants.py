"""`tenants`: vendors from their JSON file, and back."""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from bot.cli.common import echo_loaded, read_json_file, runtime, tenant_by_code, write_output
from bot.services.tenant_file import TenantFileError, parse_tenant_file
from bot.services.tenants import ReloadRefused, export_tenant, load_tenant


@click.group(cls=AppGroup, help="Vendors.")
def tenants():
    pass


@tenants.command("load", help="Create or update a vendor from a JSON file.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Also change the currency or country of a vendor with history, or remove all its staff.")
def tenants_load(path: Path, force: bool):
    try:
        config = parse_tenant_file(read_json_file(path))
        with runtime().db.transaction() as session:
            result = load_tenant(session, config, force=force, pin_pepper=runtime().config.pin_pepper)
            code = result.tenant.vendor_code
    except ReloadRefused as error:
        raise click.ClickException(
            f"{path} would rewrite the existing vendor {error.vendor}:\n  " + _lines(error)
            + "\nNothing was written. If the file is meant for that vendor, load it again with --force."
        ) from None
    except TenantFileError as error:  # invalid, or at odds with what the database holds
        raise click.ClickException(f"{path}: " + _lines(error)) from None
    echo_loaded("vendor", code, result.created, result.changed)


def _lines(error: TenantFileError) -> str:
    return "\n  ".join(error.lines)


@tenants.command("export", help="Write vendor CODE's tenant file, as `tenants load` takes it back.")
@click.argument("code")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="JSON file (default code.json).")
def tenants_export(code: str, output: Path | None):
    with runtime().db.sessions() as session:
        tenant = tenant_by_code(session, code)
        exported = export_tenant(session, tenant)
    output = output or Path(f"{tenant.vendor_code.lower()}.json")
    write_output(output, (json.dumps(exported, indent=2, ensure_ascii=False) + "\n").encode())

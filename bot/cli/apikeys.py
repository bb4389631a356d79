"""`apikeys`: vendors' keys to the REST API."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from api.machinery import scopes as api_scopes
from bot.cli.common import runtime, tenant_by_code
from bot.services.apikeys import ApiKeyService, list_keys
from bot.services.context import Context


@click.group(cls=AppGroup, help="Vendors' keys to the REST API (/api/v1).")
def apikeys():
    pass


@apikeys.command("create", help="Make a key for a vendor. It is shown once, alone on the last line; only its hash is kept.")
@click.option("--tenant", "code", required=True, help="The vendor's code, e.g. MAMA.")
@click.option("--name", required=True, help='What the key is for, e.g. "till 1".')
@click.option("--scope", "scopes", multiple=True,
              help="Limit the key to a resource (customers) or to reading it (customers:read); repeat for several. "
                   "Default: everything.")
def apikeys_create(code: str, name: str, scopes: tuple[str, ...]):
    unknown = sorted(set(scopes) - set(api_scopes()))
    if unknown:
        raise click.ClickException(f"Unknown scope {', '.join(unknown)}. Known: {', '.join(api_scopes())}.")
    if not 1 <= len(name.strip()) <= 100:
        raise click.ClickException("--name must be 1 to 100 characters.")
    rt = runtime()
    with rt.db.transaction() as session:
        tenant = tenant_by_code(session, code)
        new = ApiKeyService(Context.at(session, tenant, rt.clock())).create(name.strip(), list(scopes))
    allowed = ", ".join(new.key.scopes) or "everything"
    click.echo(f"API key {new.key.prefix}... for {tenant.vendor_code} ({new.key.name}), scopes: {allowed}.")
    click.echo("It is shown only now: store it where the till or integration keeps secrets.")
    click.echo(new.secret)


@apikeys.command("list", help="The keys (prefix, name, scopes, last used), all vendors' or one's.")
@click.option("--tenant", "code", help="Only this vendor's keys.")
def apikeys_list(code: str | None):
    with runtime().db.sessions() as session:
        tenant = tenant_by_code(session, code) if code else None
        keys = list_keys(session, tenant)

    def when(moment):
        return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"

    for key, tenant_code in keys:
        state = f"revoked {when(key.revoked_at)}" if key.revoked_at else f"last used {when(key.last_used_at)}"
        click.echo(f"{tenant_code:<8} {key.prefix}...  {key.name!r:<24} {','.join(key.scopes) or 'everything':<28} "
                   f"created {when(key.created_at)}  {state}")
    if not keys:
        click.echo("No API keys.")


@apikeys.command("revoke", help="Revoke a vendor's key, named by its prefix (as `apikeys list` shows it).")
@click.option("--tenant", "code", required=True, help="The vendor's code, e.g. MAMA.")
@click.argument("prefix")
def apikeys_revoke(code: str, prefix: str):
    rt = runtime()
    with rt.db.transaction() as session:
        tenant = tenant_by_code(session, code)
        revoked = ApiKeyService(Context.at(session, tenant, rt.clock())).revoke(prefix.rstrip("."))
    if not revoked:
        raise click.ClickException(f"{tenant.vendor_code} has no live key starting {prefix}.")
    for key in revoked:
        click.echo(f"Revoked {key.prefix}... ({key.name}).")

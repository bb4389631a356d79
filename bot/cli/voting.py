"""`voting`: SMS voting for TV shows."""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError

from bot.cli.common import echo_loaded, read_json_file, runtime
from bot.money import format_money
from bot.services.reconcile import (
    SettlementError, carriers_with_short_codes, is_known_carrier, parse_settlement, reconcile as reconcile_settlements,
)
from bot.services.shows import ShowFileError, load_show, parse_show_file
from bot.services.votes import find_episode, tally
from models.base import utcnow


@click.group(cls=AppGroup, help="SMS voting for TV shows.")
def voting():
    pass


@voting.command("load", help="Create or update a show from a JSON file.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def voting_load(path: Path):
    try:
        config = parse_show_file(read_json_file(path))
        with runtime().db.transaction() as session:
            result = load_show(session, config, runtime().config.platform_whatsapp_number)
            code = result.show.code
    except ShowFileError as error:  # invalid, or at odds with what the database holds
        raise click.ClickException(f"{path}: " + "\n  ".join(str(error).split("; "))) from None
    except IntegrityError as error:  # another load wrote the same show, number or code meanwhile
        clash = str(error.orig).splitlines()[0]
        raise click.ClickException(
            f"{path}: another load wrote the same at the same time ({clash}); nothing was written, load it again") from None
    current_app.extensions["router"].forget()
    echo_loaded("show", code, result.created, result.changed)


@voting.command("results", help="Votes per contestant of an episode, counted from the database.")
@click.argument("code")
@click.option("--episode", "number", type=int, required=True, help="The episode's number.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, the shape of /voting/CODE/live.json.")
def voting_results(code: str, number: int, as_json: bool):
    code = code.upper()
    with runtime().db.sessions() as session:
        episode = find_episode(session, code, number, utcnow())
        if episode is None:
            raise click.ClickException(f"No episode {number} of a show {code}.")
        results = tally(session.connection(), code, episode)
        title = episode.title
    if as_json:
        click.echo(json.dumps(results))
        return
    click.echo(f"{code} episode {number}: {title} - {results['total']:,} votes")
    click.echo(f"{'#':>3}  {'code':<12}{'name':<24}{'votes':>9}{'voters':>9}{'sms':>9}{'whatsapp':>9}{'package':>9}")
    for c in results["contestants"]:
        click.echo(f"{c['number']:>3}  {c['code']:<12}{c['name'][:23]:<24}{c['votes']:>9,}{c['unique_voters']:>9,}"
                   f"{c['sms']:>9,}{c['whatsapp']:>9,}{c['package']:>9,}")


@voting.command("reconcile", help="Apply a carrier's settlement CSV: confirm or fail logged messages, report differences.")
@click.option("--carrier", required=True, help="The carrier the file is from, e.g. smart.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def voting_reconcile(carrier: str, path: Path):
    carrier = carrier.lower()
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:  # a spreadsheet's export may start with a BOM
            settlements = parse_settlement(file)
    except SettlementError as error:
        raise _bad_lines(path, error) from None
    except UnicodeDecodeError:
        raise click.ClickException(f"{path}: not UTF-8 text (save the CSV as UTF-8); nothing was changed") from None
    with runtime().db.transaction() as session:
        if not is_known_carrier(session, carrier):
            known = ", ".join(carriers_with_short_codes(session)) or "none"
            raise click.ClickException(f"unknown carrier {carrier!r} (known: {known}); nothing was changed")
        try:
            report = reconcile_settlements(session, carrier, settlements)
        except SettlementError as error:  # amounts at odds with their messages' currencies
            raise _bad_lines(path, error) from None
        uncharged = [(log.carrier_message_id, log.phone_number, log.short_code, log.created_at) for log in report.uncharged]
    click.echo(f"{carrier}: {len(settlements):,} settlement rows; {report.confirmed:,} confirmed, {report.failed:,} failed.")
    _listing(f"Charged without a log: {len(report.unlogged):,}",
             [f"{s.message_id} {s.msisdn} {s.shortcode} {s.amount} {s.charged_at:%Y-%m-%d %H:%M:%S}" for s in report.unlogged])
    _listing(f"Logged without a charge: {len(uncharged):,}",
             [f"{message_id} {phone} {short_code} {created:%Y-%m-%d %H:%M:%S}" for message_id, phone, short_code, created in uncharged])
    _listing(f"Charged another amount than logged: {len(report.amount_differs):,}",
             [f"{s.message_id} charged {s.amount}, logged {logged}" for s, logged in report.amount_differs])
    click.echo("Revenue (confirmed charges, every carrier):")
    for carrier_name, short_code, currency, messages, amount in report.revenue:
        click.echo(f"  {carrier_name:<10} {short_code:<8} {messages:>9,} messages  {format_money(amount, currency)}")


def _bad_lines(path: Path, error: SettlementError) -> click.ClickException:
    return click.ClickException(f"{path}: nothing was changed:\n  " + "\n  ".join(error.problems[:50]))


def _listing(title: str, lines: list[str], limit: int = 50) -> None:
    click.echo(title)
    for line in lines[:limit]:
        click.echo(f"  {line}")
    if len(lines) > limit:
        click.echo(f"  ... and {len(lines) - limit:,} more")

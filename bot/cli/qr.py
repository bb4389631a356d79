"""`qr`: a vendor's QR poster."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from bot.cli.common import runtime, tenant_by_code, write_output
from bot.qr import FORMATS, PAPER_MM, poster_png, print_poster


@click.command(help="Write vendor CODE's QR poster: a small PNG, or with --poster a print poster (PDF or PNG at 300 dpi, by -o's extension).")
@with_appcontext
@click.argument("code")
@click.option("--poster", "paper", type=click.Choice(sorted(PAPER_MM), case_sensitive=False), help="Paper size of a print poster.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File (default code.png, or code-a5.pdf).")
def qr(code: str, paper: str | None, output: Path | None):
    fmt = output.suffix.lstrip(".").lower() if output else ("pdf" if paper else "png")
    if fmt not in (FORMATS if paper else ("png",)):
        kind, formats = ("A print poster", " or ".join(FORMATS)) if paper else ("Without --poster, the poster", "png")
        raise click.ClickException(f"{kind} is written as {formats}, not {output.name}.")
    with runtime().db.sessions() as session:
        tenant = tenant_by_code(session, code)
        if paper:
            picture = print_poster(tenant, paper.lower(), fmt)
        else:
            picture = poster_png(tenant.whatsapp_number, tenant.vendor_code, tenant.name)
    output = output or Path(f"{tenant.vendor_code.lower()}{f'-{paper.lower()}' if paper else ''}.{fmt}")
    write_output(output, picture)

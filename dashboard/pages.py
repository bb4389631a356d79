"""The pages that only show: today and the last 30 days, the QR poster, the audit log."""
from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Response, abort, g, render_template, request

from bot.catalog import render
from bot.messages import Msg
from bot.money import Money, format_money
from bot.qr import print_poster
from dashboard import blueprint
from dashboard.auth import as_owner
from dashboard.charts import bar_chart

def _money(amount: int | Money) -> str:
    """An amount in the signed-in vendor's currency."""
    return format_money(amount.minor if isinstance(amount, Money) else amount, g.shop.currency, "en")


def _count(value: int) -> str:
    return f"{value:,}"


# The overview's charts: figure, title, and how a value is written.
CHARTS = (
    ("new_members", "New members", _count), ("purchases", "Purchases", _count), ("revenue", "Revenue", _money),
    ("points_issued", "Points issued", _count), ("points_redeemed", "Points redeemed, less refunds", _count),
    ("redemptions", "Rewards redeemed", _count), ("messages_out", "Messages sent", _count),
    ("delivered", "Messages delivered", _count),
)


@blueprint.context_processor
def formatting():
    def text(message: Msg | str) -> str:
        """A ledger line's description: a catalog message, or a stored text."""
        return render(message) if isinstance(message, Msg) else message

    def local(moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(g.shop.timezone))

    return {"money": _money, "text": text, "local": local, "as_json": lambda value: json.dumps(value, ensure_ascii=False, default=str)}


@blueprint.get("/")
def overview():
    with as_owner() as services:
        figures = services.backoffice.overview()
        charts = [
            (title, bar_chart(figures.days, figure, title, show), show(sum(day[figure] for day in figures.days)))
            for figure, title, show in CHARTS
        ]
        return render_template("dashboard/overview.html", figures=figures, charts=charts)


@blueprint.get("/poster")
def poster():
    with as_owner():
        return render_template("dashboard/poster.html")


@blueprint.get("/poster/<any(a5, a4):paper>.<any(pdf, png):fmt>")
def poster_file(paper: str, fmt: str):
    with as_owner() as services:
        tenant = services.ctx.tenant
        picture = print_poster(tenant, paper, fmt)
    filename = f"{tenant.vendor_code.lower()}-poster-{paper}.{fmt}"
    disposition = "inline" if request.args.get("view") else f'attachment; filename="{filename}"'
    return Response(picture, mimetype="application/pdf" if fmt == "pdf" else "image/png", headers={"Content-Disposition": disposition})


# The deepest page of the audit log one may ask for: far past any vendor's history, and an
# offset the database can take (a page number from the URL can be any length).
MAX_AUDIT_PAGE = 1_000_000


@blueprint.get("/audit")
def audit():
    page = request.args.get("page", "1")
    if not (page.isdecimal() and len(page) <= len(str(MAX_AUDIT_PAGE)) and 1 <= int(page) <= MAX_AUDIT_PAGE):
        abort(404)
    with as_owner() as services:
        lines, more = services.backoffice.audit_log(int(page))
        return render_template("dashboard/audit.html", lines=lines, page=int(page), more=more)

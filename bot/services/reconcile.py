"""Carriers' settlement files: which logged messages the carrier charged, which it did not,
and the money per carrier and short code (`flask --app wsgi voting reconcile`)."""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Iterable

from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.orm import Session

from bot.messages import has_control_characters
from bot.money import exponent, to_minor, too_precise
from bot.services.shows import MAX_PRICE
from bot.services.tenant_file import YEARS, YEARS_RULE
from models import SmsVoteLog, VoteShortCode

COLUMNS = ("message_id", "msisdn", "shortcode", "amount", "charged_at", "status")
# What carriers write in `status` for a charge that went through, and for one that did not.
CHARGED = frozenset({"charged", "confirmed", "success", "ok", "delivered"})
NOT_CHARGED = frozenset({"failed", "refunded", "rejected", "error", "not_charged"})
_CHUNK = 5000


@dataclass(frozen=True)
class Settlement:
    line: int
    message_id: str
    msisdn: str
    shortcode: str
    amount: Decimal  # major units, in the currency the message was logged in
    charged_at: datetime
    charged: bool


class SettlementError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def parse_settlement(lines: Iterable[str]) -> list[Settlement]:
    """The rows of a settlement CSV (`message_id,msisdn,shortcode,amount,charged_at,status`).
    Raises SettlementError naming every bad line; times without a zone are UTC."""
    reader = csv.DictReader(lines)
    missing = [name for name in COLUMNS if name not in (reader.fieldnames or [])]
    if missing:
        raise SettlementError([f"header: missing column(s) {', '.join(missing)}"])
    rows, problems = [], []
    for row in reader:
        try:
            rows.append(_settlement(reader.line_num, row))
        except ValueError as error:
            problems.append(f"line {reader.line_num}: {error}")
    if problems:
        raise SettlementError(problems)
    return rows


def _settlement(line: int, row: dict) -> Settlement:
    values = {name: (row.get(name) or "").strip() for name in COLUMNS}
    if not values["message_id"]:
        raise ValueError("message_id: missing")
    for name, value in values.items():
        if has_control_characters(value):
            raise ValueError(f"{name}: has control characters (such as NUL)")
    try:
        amount = Decimal(values["amount"])
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():  # NaN and Infinity parse, and are no amount
        raise ValueError(f"amount: not a number: {values['amount']!r}")
    if amount < 0:
        raise ValueError("amount: negative")
    if amount > MAX_PRICE:  # what no show's price can be (and past what Decimal's arithmetic takes)
        raise ValueError(f"amount: must be at most {MAX_PRICE:,}")
    try:
        charged_at = datetime.fromisoformat(values["charged_at"].replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"charged_at: not a time like 2026-12-05T19:03:00: {values['charged_at']!r}") from None
    if charged_at.year not in YEARS:  # and so within the calendar once in UTC
        raise ValueError(f"charged_at: {YEARS_RULE}")
    if charged_at.tzinfo is None:
        charged_at = charged_at.replace(tzinfo=timezone.utc)
    status = values["status"].lower()
    if status not in CHARGED | NOT_CHARGED:
        raise ValueError(f"status: {values['status']!r} is none of {', '.join(sorted(CHARGED | NOT_CHARGED))}")
    return Settlement(line, values["message_id"], values["msisdn"], values["shortcode"], amount, charged_at, status in CHARGED)


@dataclass
class Report:
    confirmed: int = 0
    failed: int = 0
    unlogged: list[Settlement] = field(default_factory=list)  # charged without a log
    uncharged: list[SmsVoteLog] = field(default_factory=list)  # logged (to be charged) without a charge
    amount_differs: list[tuple[Settlement, Decimal]] = field(default_factory=list)  # with the amount logged
    revenue: list[tuple] = field(default_factory=list)  # carrier, short_code, currency, messages, amount (minor)


def carriers_with_short_codes(session: Session) -> list[str]:
    return sorted(set(session.scalars(select(VoteShortCode.carrier))))


def is_known_carrier(session: Session, carrier: str) -> bool:
    """Whether a show has a short code with `carrier`, or messages were logged through it (by
    the index that leads with the carrier: the logs may be millions of rows)."""
    return carrier in carriers_with_short_codes(session) or session.scalar(
        select(exists().where(SmsVoteLog.carrier == carrier)))


def reconcile(session: Session, carrier: str, settlements: list[Settlement]) -> Report:
    """Mark the carrier's logged messages confirmed or failed as the file says, and report
    the differences, once per message: of its rows, the one charged last says. Refused
    messages (rejected) keep their status: a charge for one is reported as an amount that
    differs. Running the same file again changes nothing. Raises SettlementError, changing
    nothing, for amounts in more decimals than their message's currency has."""
    report = Report()
    latest = _latest_per_message(settlements)
    logged = _logged(session, carrier, list(latest))
    _refuse_parts_of_the_smallest_unit(settlements, logged)
    changes = []
    for settlement in latest.values():
        log = logged.get(settlement.message_id)
        if log is None:
            if settlement.charged:
                report.unlogged.append(settlement)
            continue
        charged = to_minor(settlement.amount, log.currency or "")  # exact: no more decimals than the currency's
        if settlement.charged and charged != log.charge_amount:
            report.amount_differs.append((settlement, Decimal(log.charge_amount) / 10 ** exponent(log.currency or "")))
        if log.status == "rejected":
            continue
        status = "confirmed" if settlement.charged else "failed"
        report.confirmed += status == "confirmed"
        report.failed += status == "failed"
        changes.append({"b_id": log.id, "b_status": status, "b_at": settlement.charged_at if settlement.charged else None})
    if changes:
        t = SmsVoteLog.__table__
        session.connection().execute(
            update(t).where(t.c.id == bindparam("b_id")).values(status=bindparam("b_status"), confirmed_at=bindparam("b_at")),
            changes,
        )
    if settlements:
        report.uncharged = _not_in_file(session, carrier, set(logged), max(s.charged_at for s in settlements))
    report.revenue = _revenue(session)
    return report


def _latest_per_message(settlements: list[Settlement]) -> dict[str, Settlement]:
    """Each message's row with the latest charged_at (of equal times, the later line): a
    charge and its refund, or a row repeated, are one message."""
    latest: dict[str, Settlement] = {}
    for settlement in settlements:
        kept = latest.get(settlement.message_id)
        if kept is None or settlement.charged_at >= kept.charged_at:
            latest[settlement.message_id] = settlement
    return latest


def _refuse_parts_of_the_smallest_unit(settlements: list[Settlement], logged: dict[str, SmsVoteLog]) -> None:
    """A logged message's amounts have no more decimals than its currency (two when nothing was
    to be charged): no carrier charges a part of a cent. SettlementError naming every line."""
    problems = []
    for settlement in settlements:
        log = logged.get(settlement.message_id)
        if log is None:  # no currency to hold it to
            continue
        places = exponent(log.currency or "")
        if too_precise(settlement.amount, log.currency or ""):
            problems.append(f"line {settlement.line}: amount: has more decimals than the currency's {places}")
    if problems:
        raise SettlementError(problems)


def _logged(session: Session, carrier: str, message_ids: list[str]) -> dict[str, SmsVoteLog]:
    found = {}
    for start in range(0, len(message_ids), _CHUNK):
        chunk = message_ids[start:start + _CHUNK]
        found.update((log.carrier_message_id, log) for log in session.scalars(
            select(SmsVoteLog).where(SmsVoteLog.carrier == carrier, SmsVoteLog.carrier_message_id.in_(chunk))))
    return found


def _not_in_file(session: Session, carrier: str, in_file: set[str], until: datetime) -> list[SmsVoteLog]:
    """Messages logged to be charged, up to the file's last charge, that it does not list."""
    pending = session.scalars(select(SmsVoteLog).where(
        SmsVoteLog.carrier == carrier, SmsVoteLog.status == "pending", SmsVoteLog.charge_amount > 0,
        SmsVoteLog.created_at <= until,
    ).order_by(SmsVoteLog.created_at))
    return [log for log in pending if log.carrier_message_id not in in_file]


def _revenue(session: Session) -> list[tuple]:
    return [tuple(row) for row in session.execute(
        select(SmsVoteLog.carrier, SmsVoteLog.short_code, SmsVoteLog.currency, func.count(), func.sum(SmsVoteLog.charge_amount))
        .where(SmsVoteLog.status == "confirmed", SmsVoteLog.charge_amount > 0)
        .group_by(SmsVoteLog.carrier, SmsVoteLog.short_code, SmsVoteLog.currency)
        .order_by(SmsVoteLog.carrier, SmsVoteLog.short_code))]

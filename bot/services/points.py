"""The points ledger: append-only rows, with the balance kept beside them in the same
transaction. Credits are lots that remember what is left of them and when they expire."""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import Executable, Exists, and_, bindparam, case, exists, func, insert, inspect, literal_column, or_, select, text, update
from sqlalchemy.orm import Session

from bot.catalog import freeze, render, thaw
from bot.db import (
    as_loaded, connection_of, fetch_prepared, on_postgresql, run_prepared, snapshot_version, update_loaded, with_defaults, write_new,
    write_rows, written_here,
)
from bot.messages import Msg, say
from bot.outbound import notify
from bot.services import audit
from bot.services.context import Context
from bot.services.pages import Page, by_newest, page
from models.base import new_id
from models import Customer, CustomerPointsBalance, PointsLotAllocation, PointsTransaction, Tenant


@dataclass(frozen=True)
class Balance:
    balance: int
    earned: int
    next_expiry_points: int
    next_expiry_on: date | None
    member_code: str


@dataclass(frozen=True)
class Adjusted:
    id: uuid.UUID  # the ledger entry
    points: int
    reason: str
    balance_before: int
    balance_after: int
    created_at: datetime


@dataclass(frozen=True)
class LedgerLine:
    when: datetime  # in the vendor's timezone
    points: int
    description: Msg | str  # a plain text as stored, for rows older than keyed descriptions


def open_balance(session: Session, customer: Customer) -> CustomerPointsBalance:
    """The new customer's balance row, all zeros, written (`write_new`) and held by the session."""
    return write_new(session, CustomerPointsBalance, {"tenant_id": customer.tenant_id, "customer_id": customer.id})


def expiry_for(tenant: Tenant, now: datetime) -> datetime | None:
    """When points earned now expire: points_expiry_days later on the vendor's calendar, at the
    same local time. Counted in days of 24 hours instead, a lot earned at 23:30 in winter would
    expire at 00:30 a day late where the clocks go forward for the summer."""
    days = tenant.settings.get("points_expiry_days")
    if not days:
        return None
    return (now.astimezone(ZoneInfo(tenant.timezone)) + timedelta(days=days)).astimezone(timezone.utc)


class NotEnoughPoints(ValueError):
    pass


# The lifetime counter each kind of ledger entry moves, and in which direction. A hand
# adjustment moves the balance only: it is a correction, neither earned nor spent.
_COUNTERS = {
    "adjusted": (None, 0),
    "earned": (CustomerPointsBalance.total_earned, 1),
    "reversed": (CustomerPointsBalance.total_earned, 1),  # a voided purchase was never really earned
    "redeemed": (CustomerPointsBalance.total_redeemed, -1),
    "expired": (CustomerPointsBalance.total_expired, -1),
    "refunded": (CustomerPointsBalance.total_redeemed, -1),  # a cancelled redemption was never really spent
}


def credit(
    session: Session,
    tenant: Tenant,
    customer: Customer,
    points: int,
    *,
    source: str,
    description: Msg | str,
    now: datetime,
    created_by: uuid.UUID | None = None,
    purchase_id: uuid.UUID | None = None,
    **details,
) -> None:
    """Earn `points` as a new lot expiring after the vendor's points_expiry_days.
    The caller holds the customer row lock."""
    _add_lot(
        session, customer, points, "earned", source=source, description=description, now=now,
        expires_at=expiry_for(tenant, now), created_by_user_id=created_by, purchase_id=purchase_id, details=details,
    )


def refund(
    session: Session,
    customer: Customer,
    points: int,
    *,
    expires_at: datetime | None,
    description: Msg | str,
    now: datetime,
    reward_redemption_id: uuid.UUID,
) -> None:
    """Give back points a redemption took, as a lot expiring when the one they came from did."""
    _add_lot(
        session, customer, points, "refunded", source="refund", description=description, now=now,
        expires_at=expires_at, reward_redemption_id=reward_redemption_id,
    )


def _add_lot(
    session: Session, customer: Customer, points: int, kind: str, now: datetime, description: Msg | str,
    details: dict | None = None, **columns,
) -> uuid.UUID:
    """Write the lot and move the balance; the lot's id. The lot is a row's values, not an
    object of the session, which nothing would read: making one cost 200,000 instructions, and
    a new member's first purchase writes two lots (the welcome bonus's, the purchase's)."""
    if points <= 0:
        raise ValueError("a credit must be positive")
    lot = with_defaults(PointsTransaction, {
        "tenant_id": customer.tenant_id, "customer_id": customer.id, "transaction_type": kind, "points": points,
        "remaining": points, "created_at": now, **_described(description, details or {}), **columns,
    })
    _move_balance(session, customer, kind, points, now, lot=lot)
    return lot["id"]


def _described(description: Msg | str, details: dict) -> dict:
    """A ledger line's description: a catalog message is kept in the details too, so that HISTORY
    shows it in the customer's language, and in English in its column, for whoever reads the
    table; a plain text (a shop's own words) is shown as written."""
    if isinstance(description, str):
        return {"description": description[:255], "details": details}
    return {"description": render(description)[:255], "details": {**details, "description": freeze(description)}}


def debit(
    session: Session,
    customer: Customer,
    points: int,
    *,
    transaction_type: str,
    source: str,
    description: Msg | str,
    now: datetime,
    lots: list[PointsTransaction] | None = None,
    allocated: bool = True,
    created_by: uuid.UUID | None = None,
    purchase_id: uuid.UUID | None = None,
    reward_redemption_id: uuid.UUID | None = None,
    **details,
) -> PointsTransaction:
    """Take `points` away (redeemed, expired, reversed), consuming `lots` or else the
    earliest-expiring lots first, and record which lots gave how much, unless not `allocated`
    (expiry: see expire_lots). The caller holds the customer row lock. Raises NotEnoughPoints,
    changing nothing, if the lots fall short."""
    if points <= 0:
        raise ValueError("a debit must be positive")
    lots = open_lots(session, customer, now) if lots is None else lots
    if sum(lot.remaining for lot in lots) < points:
        raise NotEnoughPoints(f"{points} points wanted")
    entry = PointsTransaction(
        id=new_id(),  # the allocations below refer to it before the flush
        tenant_id=customer.tenant_id,
        customer_id=customer.id,
        transaction_type=transaction_type,
        source=source,
        points=-points,
        purchase_id=purchase_id,
        reward_redemption_id=reward_redemption_id,
        **_described(description, details),
        created_by_user_id=created_by,
        created_at=now,
    )
    session.add(entry)
    wanted = points
    for lot in lots:
        taken = min(lot.remaining, wanted)
        if taken == 0:
            continue
        lot.remaining -= taken
        wanted -= taken
        if allocated:
            session.add(PointsLotAllocation(tenant_id=customer.tenant_id, debit_id=entry.id, lot_id=lot.id, points=taken))
        if wanted == 0:
            break
    _move_balance(session, customer, transaction_type, -points, now)
    return entry


def _lots(session: Session, customer: Customer, *where) -> list[PointsTransaction]:
    """The customer's credits with points left and meeting `where`: earliest expiry first
    (never-expiring last), oldest first."""
    return list(
        session.scalars(
            select(PointsTransaction)
            .where(
                PointsTransaction.tenant_id == customer.tenant_id,
                PointsTransaction.customer_id == customer.id,
                PointsTransaction.remaining > 0,
                *where,
            )
            .order_by(PointsTransaction.expires_at.is_(None), PointsTransaction.expires_at, PointsTransaction.created_at)
        )
    )


def open_lots(session: Session, customer: Customer, now: datetime) -> list[PointsTransaction]:
    """The lots that can still be spent."""
    return _lots(session, customer, or_(PointsTransaction.expires_at.is_(None), PointsTransaction.expires_at > now))


def _past_expiry(now: datetime):
    return PointsTransaction.expires_at <= now


def expire_lots(session: Session, customer: Customer, now: datetime) -> int:
    """Take away exactly what is left of the lots past their expiry, as one `expired` entry.
    It writes no allocations: a lot past its expiry with nothing left lost to expiry what its
    allocations do not account for, so the lot itself is the record, and expiring a million
    lots writes a million fewer rows. The caller holds the customer row lock. Returns the points."""
    due = _lots(session, customer, _past_expiry(now))
    total = sum(lot.remaining for lot in due)
    if total:
        debit(
            session, customer, total, transaction_type="expired", source="expiry", description=say("ledger.expired"), now=now,
            lots=due, allocated=False,
        )
    return total


def spendable(session: Session, customer: Customer, now: datetime) -> int:
    """What the customer can spend now: lots past their expiry are expired first (expired points
    can be neither spent nor taken). The caller holds the customer row lock."""
    expire_lots(session, customer, now)
    return session.get(CustomerPointsBalance, (customer.tenant_id, customer.id), populate_existing=True).current_balance


def _due_lots(tenant_id, customer_id, now) -> tuple:
    """SQL: the lots of the customer (columns or values) with points left past their expiry at
    `now` (a time or a bind parameter), those expire_lots would take."""
    return (
        PointsTransaction.tenant_id == tenant_id, PointsTransaction.customer_id == customer_id,
        PointsTransaction.remaining > 0, _past_expiry(now),
    )


def past_expiry_at(now) -> Exists:
    """Whether the customer of the row selected (a Customer) has points past their expiry that
    expire_lots would take: one cheap test in a statement that reads the customer anyway."""
    return exists().where(*_due_lots(Customer.tenant_id, Customer.id, now))


def spendable_balance(now: datetime):
    """What a customer can spend now, as an SQL expression over their CustomerPointsBalance row,
    for reading without a lock: the balance less what is left of lots past their expiry, which
    expire_lots would take. It writes nothing."""
    due = (
        select(func.coalesce(func.sum(PointsTransaction.remaining), 0))
        .where(*_due_lots(CustomerPointsBalance.tenant_id, CustomerPointsBalance.customer_id, now))
        .correlate(CustomerPointsBalance)
        .scalar_subquery()
    )
    return CustomerPointsBalance.current_balance - due


# Expiry of many customers at once (PostgreSQL): the same rule as expire_lots, one customer's
# due lots emptied -> one `expired` entry and the balance moved, done set-based
# for a chunk of customers whose rows this transaction holds (locked, in key order).
# Customers busy with a message right now are skipped, never waited for: they are taken again
# by their keys. Locked as ROW_LOCK does (FOR NO KEY UPDATE), so that rows written about them
# meanwhile (their messages) are not held up by their foreign-key checks.

# A time-ordered id (UUIDv7 layout: milliseconds, then random bits) for the entries expiry writes:
# hundreds of thousands of them then go to the right edge of their indexes instead of all over them, which
# dirties (and logs) a few pages instead of one per row.
_TIME_ORDERED_ID = """encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING
    substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid"""


def _expire_statement(due: str):
    """One chunk in one statement, so that no key goes through Python: of the customers `due`
    finds, those not busy locked, their due lots emptied (one index descent per customer), one
    `expired` entry each and their balances moved; back come how many were due and held, the
    points, the last due key and the keys of the busy ones."""
    return text(f"""
    WITH due AS MATERIALIZED ({due}
    ), held AS MATERIALIZED (
        SELECT c.tenant_id, c.customer_id FROM due CROSS JOIN LATERAL (
            SELECT c.tenant_id, c.id AS customer_id FROM customers c
            WHERE c.tenant_id = due.tenant_id AND c.id = due.customer_id
            FOR NO KEY UPDATE SKIP LOCKED
        ) c
    ), lots AS (
        SELECT lot.row, held.tenant_id, held.customer_id, lot.remaining FROM held CROSS JOIN LATERAL (
            SELECT p.ctid AS row, p.remaining FROM points_transactions p
            WHERE p.tenant_id = held.tenant_id AND p.customer_id = held.customer_id AND p.remaining > 0 AND p.expires_at <= :now
        ) lot
    ), taken AS (
        -- The statement's snapshot is older than its locks: a message that ended in between
        -- may have expired a lot itself. The WHERE is checked again on the row as it is now (a
        -- changed lot has a new ctid, and holds less), so a lot is emptied, and booked, only
        -- while it is still what the snapshot read (test_expiry_pg proves it).
        UPDATE points_transactions p SET remaining = 0 FROM lots
        WHERE p.ctid = lots.row AND p.remaining = lots.remaining
        RETURNING lots.tenant_id, lots.customer_id, lots.remaining
    ), debits AS (
        INSERT INTO points_transactions (tenant_id, id, customer_id, transaction_type, source, points, description, details, created_at)
        SELECT tenant_id, {_TIME_ORDERED_ID}, customer_id, 'expired', 'expiry', -sum(remaining), :description, CAST(:details AS jsonb), :now
        FROM taken GROUP BY tenant_id, customer_id
        RETURNING tenant_id, customer_id, points
    ), balances AS (
        UPDATE customer_points_balance b
        SET current_balance = b.current_balance + d.points, total_expired = b.total_expired - d.points, updated_at = :now
        FROM debits d WHERE b.tenant_id = d.tenant_id AND b.customer_id = d.customer_id
    ), busy AS (
        SELECT * FROM due EXCEPT SELECT * FROM held
    ), last AS (
        SELECT tenant_id, customer_id FROM due ORDER BY tenant_id DESC, customer_id DESC LIMIT 1
    )
    SELECT (SELECT count(*) FROM due) AS due, (SELECT count(*) FROM held) AS held,
           (SELECT coalesce(-sum(points), 0) FROM debits) AS points, last.tenant_id, last.customer_id,
           (SELECT coalesce(array_agg(tenant_id::text), '{{}}') FROM busy) AS busy_tenants,
           (SELECT coalesce(array_agg(customer_id::text), '{{}}') FROM busy) AS busy_customers
    FROM (SELECT 1) one LEFT JOIN last ON true
""")


# The next customers with due lots after key `after`, among the customer ids in a range.
_EXPIRE_NEXT = _expire_statement("""
        SELECT DISTINCT tenant_id, customer_id FROM points_transactions
        WHERE remaining > 0 AND expires_at <= :now
          AND (tenant_id, customer_id) > (CAST(:after_tenant AS uuid), CAST(:after_customer AS uuid))
          AND customer_id BETWEEN CAST(:low AS uuid) AND CAST(:high AS uuid)
        ORDER BY tenant_id, customer_id
        LIMIT :limit""")
# Customers found busy before, by their keys.
_EXPIRE_AGAIN = _expire_statement("""
        SELECT * FROM unnest(CAST(:tenants AS uuid[]), CAST(:customers AS uuid[])) AS busy(tenant_id, customer_id)""")
# The `expired` entry's description and details, as expire_lots writes them (HISTORY reads them).
_EXPIRED_ENTRY = {name: json.dumps(value) if name == "details" else value
                  for name, value in _described(say("ledger.expired"), {}).items()}
FIRST_KEY = (str(uuid.UUID(int=0)), str(uuid.UUID(int=0)))
ALL_CUSTOMERS = (str(uuid.UUID(int=0)), str(uuid.UUID(int=2**128 - 1)))


def customer_ranges(count: int) -> list[tuple[str, str]]:
    """`count` disjoint ranges of customer ids covering them all, for expiry run in parallel."""
    step = 2**128 // count
    return [(str(uuid.UUID(int=i * step)), str(uuid.UUID(int=2**128 - 1 if i == count - 1 else (i + 1) * step - 1)))
            for i in range(count)]


@dataclass(frozen=True)
class ExpiredChunk:
    points: int
    customers: int  # customers whose lots expired
    busy: tuple[tuple[str, str], ...]  # keys of customers skipped because a message of theirs held the row
    last: tuple[str, str] | None  # the last customer key looked at; None: nothing more due
    locked_at: float | None = None  # time.perf_counter() when the statement that locks them began


def expire_chunk(
    session: Session, now: datetime, after: tuple = FIRST_KEY, limit: int = 2000, customers: tuple = ALL_CUSTOMERS,
) -> ExpiredChunk:
    """Expire the due lots of the next `limit` customers after key `after`, among the customer
    ids in the range `customers` (PostgreSQL). The caller commits: the customer locks last that
    one short transaction."""
    return _expired(session, _EXPIRE_NEXT, {
        "after_tenant": after[0], "after_customer": after[1], "limit": limit, "low": customers[0], "high": customers[1],
    }, now)


def expire_again(session: Session, now: datetime, busy: tuple[tuple[str, str], ...]) -> ExpiredChunk:
    """Expire the due lots of customers found busy before (`busy`: their keys)."""
    return _expired(session, _EXPIRE_AGAIN, {"tenants": [key[0] for key in busy], "customers": [key[1] for key in busy]}, now)


def _expired(session: Session, statement, params: dict, now: datetime) -> ExpiredChunk:
    locked_at = time.perf_counter()
    chunk = session.connection().execute(statement, {"now": now, **_EXPIRED_ENTRY, **params}).one()
    last = (str(chunk.tenant_id), str(chunk.customer_id)) if chunk.due else None
    busy = tuple(zip(chunk.busy_tenants, chunk.busy_customers))
    return ExpiredChunk(int(chunk.points), chunk.held, busy, last, locked_at)


def _move_balance(
    session: Session, customer: Customer, kind: str, points: int, now: datetime, lot: dict | None = None,
) -> None:
    """Move the balance (writing `lot` too, if given), in one statement on PostgreSQL, prepared
    and straight on the driver (run_prepared). The row comes back and refreshes the session's
    copy, so that reading the balance after costs nothing. A balance row this transaction wrote
    (a new member's) is moved without a round trip (_move_own_balance)."""
    session.info.pop(_BALANCE_READ, None)  # what the message's first query read of it is past
    session.flush()  # what the lot refers to (its purchase), and the balance row if new
    own = session.identity_map.get(_balance_key(customer))
    if own is not None and written_here(session, own):
        _move_own_balance(session, own, kind, points, now, lot)
        return
    params = {"b_tenant": customer.tenant_id, "b_customer": customer.id, "b_points": points,
              "b_counted": _COUNTERS[kind][1] * points, "b_now": now}
    moves = _MOVES[kind]
    connection = connection_of(session)
    if lot is None:
        statement = moves.alone
    else:
        params.update({f"l_{name}": lot[name] for name in _LOT_COLUMNS})
        if connection.dialect.name == "postgresql":
            statement = moves.with_lot
        else:
            connection.execute(_INSERT_LOT, params)
            statement = moves.alone
    moved = run_prepared(connection, statement, params)
    if moved is not None:
        as_loaded(session, CustomerPointsBalance, moved)


def _move_own_balance(
    session: Session, balance: CustomerPointsBalance, kind: str, points: int, now: datetime, lot: dict | None,
) -> None:
    """Move a balance row no other transaction can see yet: its new values worked out from the
    session's copy, which is the row, and written with the lot as writes that wait for the
    transaction's next statement (bot/db.py's write)."""
    counter, sign = _COUNTERS[kind]
    values = {"current_balance": balance.current_balance + points, "updated_at": now}
    if counter is not None:
        values[counter.key] = getattr(balance, counter.key) + sign * points
    if lot is not None:
        write_rows(session, PointsTransaction, lot)
    update_loaded(session, balance, **values)


def _balance_key(customer: Customer):
    return inspect(CustomerPointsBalance).identity_key_from_primary_key([customer.tenant_id, customer.id])


_LOT_COLUMNS = tuple(column.name for column in PointsTransaction.__table__.c)
# Parameters named apart from the columns, so that none of them leaks into the UPDATE beside it.
_INSERT_LOT = insert(PointsTransaction.__table__).values({name: bindparam(f"l_{name}") for name in _LOT_COLUMNS})


@dataclass(frozen=True)
class _Moves:
    """One kind of entry's balance UPDATE (returning the row), alone and after writing a lot."""

    alone: Executable
    with_lot: Executable


def _moves(kind: str) -> _Moves:
    balance = CustomerPointsBalance.__table__.c
    counter, _ = _COUNTERS[kind]
    values = {balance.current_balance: balance.current_balance + bindparam("b_points"), balance.updated_at: bindparam("b_now")}
    if counter is not None:
        values[balance[counter.key]] = balance[counter.key] + bindparam("b_counted")
    moved = (
        update(CustomerPointsBalance.__table__)
        .where(balance.tenant_id == bindparam("b_tenant"), balance.customer_id == bindparam("b_customer"))
        .values(values)
        .returning(*balance)
    )
    return _Moves(moved, moved.add_cte(_INSERT_LOT.cte("lot")))


_MOVES = {kind: _moves(kind) for kind in _COUNTERS}


_SHOWN_LOTS = 50  # the most lots a balance reads, earliest expiry first


def _shown_lots(tenant_id, customer_id) -> tuple:
    """SQL: the customer's lots a balance shows (of the customer's columns): those that expire,
    with points left."""
    return (
        PointsTransaction.tenant_id == tenant_id, PointsTransaction.customer_id == customer_id,
        PointsTransaction.remaining > 0, PointsTransaction.expires_at.is_not(None),
    )


_BALANCE_WITH_LOTS = (
    select(
        CustomerPointsBalance.current_balance,
        CustomerPointsBalance.total_earned,
        PointsTransaction.expires_at,
        PointsTransaction.remaining,
    )
    .outerjoin(PointsTransaction, and_(*_shown_lots(CustomerPointsBalance.tenant_id, CustomerPointsBalance.customer_id)))
    .where(CustomerPointsBalance.tenant_id == bindparam("tenant"), CustomerPointsBalance.customer_id == bindparam("customer"))
    .order_by(PointsTransaction.expires_at)
    .limit(_SHOWN_LOTS)
)


def member_version():
    """SQL, for the subquery that locks the member row whose balance balance_read reads: the
    version of the row it locked (PostgreSQL's xmin; NULL elsewhere), labelled `version`."""
    return on_postgresql(literal_column("customers.xmin")).label("version")


def balance_read(member):
    """SQL for the dispatcher's first query, on PostgreSQL (NULL elsewhere): the balance of the
    customer row `member` selects (a subquery of customers that locks it, with member_version),
    as keep_balance_read takes it, in JSON: [balance, total earned, [[expires_at, remaining],
    ...]] with the lots a balance shows. NULL too when the row locked is not the version the
    statement's snapshot sees: the query waited for the lock while another message changed
    the row, and what the snapshot holds of the balance may be from before that message."""
    balance = CustomerPointsBalance
    lots = (
        select(func.json_build_array(PointsTransaction.expires_at, PointsTransaction.remaining))
        .where(*_shown_lots(balance.tenant_id, balance.customer_id))
        .order_by(PointsTransaction.expires_at)
        .limit(_SHOWN_LOTS)
        .correlate(balance)
        .scalar_subquery()
    )
    shown = func.json_build_array(balance.current_balance, balance.total_earned, func.array_to_json(func.ARRAY(lots)))
    read = (
        select(case((member.c.version == snapshot_version(Customer.__table__, member), shown)))
        .where(balance.tenant_id == member.c.tenant_id, balance.customer_id == member.c.id)
        .scalar_subquery()
    )
    return on_postgresql(read)


_BALANCE_READ = "balance_read"  # in a session's info: the member's balance its message's first query read


def keep_balance_read(session: Session, member: Customer, read: list | None) -> None:
    """Keep what the dispatcher's first query read of its member's balance (balance_read, None
    when it read none) for the message's PointsService.balance, which then costs no query. It is
    read once, and forgotten when the message moves the balance. That query read it with the
    snapshot it took before it locked the member, and keeps none when another message changed
    the member's row meanwhile (every message of the phone does, and a purchase for it); but a
    change of the balance alone made meanwhile (an adjustment by the vendor) is read from before
    it, as if this message had come first. So what it read is shown, and may turn a customer back
    early (a reward they cannot afford), but is never spent: what is spent is read again under
    the lock (spendable)."""
    if read is not None:
        balance, earned, lots = read
        shown = [(datetime.fromisoformat(expires_at), remaining) for expires_at, remaining in lots]
        session.info[_BALANCE_READ] = ((member.tenant_id, member.id), (balance, earned, shown))


def _description(row: PointsTransaction) -> Msg | str:
    """What HISTORY shows: the catalog message, or the stored text of a row from before those."""
    keyed = (row.details or {}).get("description")
    return thaw(keyed) if keyed else row.description or ""


class PointsService:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def balance(self) -> Balance:
        """The balance with its next-expiring lots, in one query: the lots ending on the same
        local day as the earliest one are added up. Lots found past their expiry are expired
        first, so the balance shown is what can be spent."""
        customer = self.ctx.require_customer()
        balance, earned, lots = self._read(customer)
        if any(expires_at <= self.ctx.now for expires_at, _ in lots):
            expire_lots(self.ctx.session, customer, self.ctx.now)
            balance, earned, lots = self._read(customer)
        days = [(expires_at.astimezone(self.ctx.zone).date(), remaining) for expires_at, remaining in lots]
        next_on = days[0][0] if days else None
        next_points = sum(points for day, points in days if day == next_on)
        return Balance(balance, earned, next_points, next_on, customer.member_code)

    def _read(self, customer: Customer) -> tuple[int, int, list[tuple[datetime, int]]]:
        """The balance, the total earned and the lots shown: as the message's first query read
        them (keep_balance_read), else read now."""
        kept = self.ctx.session.info.pop(_BALANCE_READ, None)
        if kept is not None and kept[0] == (customer.tenant_id, customer.id):
            return kept[1]
        rows = fetch_prepared(connection_of(self.ctx.session), _BALANCE_WITH_LOTS, {"tenant": customer.tenant_id, "customer": customer.id})
        return rows[0].current_balance, rows[0].total_earned, [(row.expires_at, row.remaining) for row in rows if row.expires_at]

    def history(self, limit: int = 8) -> list[LedgerLine]:
        customer = self.ctx.require_customer()
        rows = self.ctx.session.scalars(
            select(PointsTransaction)
            .where(
                PointsTransaction.tenant_id == customer.tenant_id,
                PointsTransaction.customer_id == customer.id,
            )
            .order_by(PointsTransaction.created_at.desc())
            .limit(limit)
        )
        return [LedgerLine(row.created_at.astimezone(self.ctx.zone), row.points, _description(row)) for row in rows]

    def ledger(self, cursor: str | None, limit: int) -> Page[PointsTransaction]:
        """The customer's ledger entries, newest first, a page at a time."""
        customer = self.ctx.require_customer()
        query = select(PointsTransaction).where(
            PointsTransaction.tenant_id == customer.tenant_id, PointsTransaction.customer_id == customer.id
        )
        return page(
            self.ctx.session, query, by_newest(PointsTransaction.created_at, PointsTransaction.id), cursor, limit,
            key_of=lambda row: (row.PointsTransaction.created_at, row.PointsTransaction.id),
            convert=lambda row: row.PointsTransaction,
        )

    def adjust(self, points: int, reason: str) -> Adjusted:
        """Add (a lot with the usual expiry) or take away (earliest-expiring first) points by hand,
        with the reason, through the ledger; audited, and the customer is told. The caller
        holds the customer row lock. Raises NotEnoughPoints, changing nothing, when taking
        away more than can be spent."""
        ctx, actor = self.ctx, self.ctx.actor
        customer = ctx.require_customer()
        before = spendable(ctx.session, customer, ctx.now)
        description = say("ledger.adjusted", reason=reason)
        if points > 0:
            entry_id = _add_lot(
                ctx.session, customer, points, "adjusted", source="adjustment", description=description, now=ctx.now,
                expires_at=expiry_for(ctx.tenant, ctx.now), created_by_user_id=actor.user_id,
            )
        else:
            entry_id = debit(
                ctx.session, customer, -points, transaction_type="adjusted", source="adjustment", description=description,
                now=ctx.now, created_by=actor.user_id,
            ).id
        ctx.session.flush()
        after = self._current(customer)
        audit.record(
            ctx.session, ctx.tenant.id, "points.adjusted", actor_type=actor.type, actor_id=actor.id,
            entity_type="customer", entity_id=customer.id, points=points, reason=reason,
            before={"balance": before}, after={"balance": after},
        )
        notify(ctx.session, ctx.outbox, ctx.tenant, customer, say(
            "points_adjusted_notice", vendor=ctx.tenant.name, points=points, reason=reason, balance=after,
        ))
        return Adjusted(entry_id, points, reason, before, after, ctx.now)

    def _current(self, customer: Customer) -> int:
        balance = self.ctx.session.get(CustomerPointsBalance, (customer.tenant_id, customer.id), populate_existing=True)
        return balance.current_balance


@dataclass(frozen=True)
class Mismatch:
    tenant_id: uuid.UUID
    customer_id: uuid.UUID
    balance: int | None  # the balance row, None if missing
    ledger: int  # the sum of the ledger
    lots: int  # the points left in its lots


def ledger_mismatches(session: Session) -> list[Mismatch]:
    """Every customer whose balance is not the sum of its ledger, nor what its lots hold,
    or is negative. Two grouped scans, whatever the number of customers."""
    ledger = (
        select(
            PointsTransaction.tenant_id,
            PointsTransaction.customer_id,
            func.sum(PointsTransaction.points).label("total"),
            func.coalesce(func.sum(PointsTransaction.remaining), 0).label("lots"),
        )
        .group_by(PointsTransaction.tenant_id, PointsTransaction.customer_id)
        .subquery()
    )
    joined = (ledger.c.tenant_id == CustomerPointsBalance.tenant_id) & (
        ledger.c.customer_id == CustomerPointsBalance.customer_id
    )
    total, lots = func.coalesce(ledger.c.total, 0), func.coalesce(ledger.c.lots, 0)
    bad_balances = session.execute(
        select(CustomerPointsBalance.tenant_id, CustomerPointsBalance.customer_id, CustomerPointsBalance.current_balance, total, lots)
        .outerjoin(ledger, joined)
        .where(
            (CustomerPointsBalance.current_balance != total)
            | (CustomerPointsBalance.current_balance != lots)
            | (CustomerPointsBalance.current_balance < 0)
        )
    ).all()
    without_balance = session.execute(
        select(ledger.c.tenant_id, ledger.c.customer_id, ledger.c.total, ledger.c.lots)
        .outerjoin(CustomerPointsBalance, joined)
        .where(CustomerPointsBalance.customer_id.is_(None))
    ).all()
    return [Mismatch(*row) for row in bad_balances] + [Mismatch(t, c, None, total, lots) for t, c, total, lots in without_balance]

"""What the owner's back office (the dashboard) reads: the figures, customers found by phone,
member code or name, one customer's purchases, the rewards, and the audit log. It reads only
the vendor's own rows; every change goes through the services the flows use."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from bot.messages import without_control_characters
from bot.money import Money
from bot.phones import InvalidPhone, to_e164
from bot.services.context import Context
from bot.services.customers import choose_customer, with_spendable_balance
from bot.services.metrics import FIGURES, MetricsService
from models import AuditLog, Customer, Purchase, Reward, Staff

CHART_DAYS = 30
AUDIT_PAGE = 50
_MIN_PHONE_DIGITS = 3


@dataclass(frozen=True)
class Overview:
    members: int
    today: dict  # the figures of today (daily_metrics' names)
    days: list[dict]  # the last CHART_DAYS days, today last


@dataclass(frozen=True)
class CustomerRow:
    id: uuid.UUID
    phone: str
    name: str | None
    member_code: str | None
    balance: int
    joined_at: datetime  # in the vendor's timezone


@dataclass(frozen=True)
class PurchaseLine:
    when: datetime  # in the vendor's timezone
    amount: Money
    points: int
    status: str
    by: str | None  # the staff member who logged it


@dataclass(frozen=True)
class AuditLine:
    when: datetime  # in the vendor's timezone
    who: str
    action: str
    entity_type: str | None
    details: dict


class BackOfficeService:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def overview(self) -> Overview:
        """Today's figures and the last CHART_DAYS days': the days the nightly job computed as
        stored, the others (today, or a night it did not run) as they stand now; none before
        the vendor existed."""
        ctx = self.ctx
        today, opened = (moment.astimezone(ctx.zone).date() for moment in (ctx.now, ctx.tenant.created_at))
        first = today - timedelta(days=CHART_DAYS - 1)
        metrics = MetricsService(ctx)
        stored = {day["date"]: day for day in metrics.stored(first, today - timedelta(days=1))}
        days = []
        for day in (first + timedelta(days=n) for n in range(CHART_DAYS)):
            if day in stored:
                days.append(stored[day])
            else:
                live = metrics.figures(day) if day >= opened else dict.fromkeys(FIGURES, 0)
                days.append({"date": day, **live})
        members = ctx.session.scalar(select(func.count()).where(Customer.tenant_id == ctx.tenant.id))
        return Overview(members, days[-1], days)

    def find_customers(self, text: str, limit: int = 30) -> list[CustomerRow]:
        """Customers whose phone holds the digits typed (local form too: 0803 123 finds
        +234803123...), whose member code is the text, or whose name holds it; the newest
        first. No text: the newest customers."""
        text = without_control_characters(text).strip()  # a NUL cannot even be compared
        query = with_spendable_balance(self.ctx.now).where(Customer.tenant_id == self.ctx.tenant.id)
        if text:
            query = query.where(or_(*self._matching(text)))
        rows = self.ctx.session.execute(query.order_by(Customer.created_at.desc()).limit(limit)).all()
        return [self._row(row.Customer, row.spendable) for row in rows]

    def _matching(self, text: str) -> list:
        conditions = [Customer.member_code == text.upper(), func.lower(Customer.whatsapp_name).contains(text.lower(), autoescape=True)]
        try:
            conditions.append(Customer.phone_number == to_e164(text, self.ctx.tenant.country))
        except InvalidPhone:
            pass
        digits = re.sub(r"\D", "", text).lstrip("0")  # a local number's leading 0 is not in E.164
        if len(digits) >= _MIN_PHONE_DIGITS:
            conditions.append(Customer.phone_number.contains(digits, autoescape=True))
        return conditions

    def customer(self, customer_id: uuid.UUID, lock: bool = False) -> CustomerRow | None:
        """One of the vendor's customers, made the one this unit of work is about (the points
        and rewards services then act on them); None if the vendor has no such customer. To
        change anything, `lock` their row, as the dispatcher locks a phone's."""
        ctx = self.ctx
        if choose_customer(ctx, customer_id, lock) is None:
            return None
        spendable = ctx.session.execute(
            with_spendable_balance(ctx.now).where(Customer.tenant_id == ctx.tenant.id, Customer.id == customer_id)
        ).one().spendable
        return self._row(ctx.customer, spendable)

    def purchases(self, limit: int = 20) -> list[PurchaseLine]:
        """The chosen customer's last purchases, newest first."""
        customer = self.ctx.require_customer()
        rows = self.ctx.session.execute(
            select(Purchase, Staff.full_name)
            .outerjoin(Staff, (Staff.tenant_id == Purchase.tenant_id) & (Staff.id == Purchase.logged_by_user_id))
            .where(Purchase.tenant_id == customer.tenant_id, Purchase.customer_id == customer.id)
            .order_by(Purchase.created_at.desc())
            .limit(limit)
        ).all()
        return [
            PurchaseLine(self._local(p.created_at), Money(p.amount, p.currency), p.points_awarded, p.status, staff)
            for p, staff in rows
        ]

    def rewards(self) -> list[Reward]:
        """Every reward, offered or switched off, in the catalog's order."""
        return list(self.ctx.session.scalars(
            select(Reward).where(Reward.tenant_id == self.ctx.tenant.id).order_by(Reward.position, Reward.name)
        ))

    def reward(self, reward_id: uuid.UUID) -> Reward | None:
        return self.ctx.session.get(Reward, (self.ctx.tenant.id, reward_id))

    def audit_log(self, page: int = 1) -> tuple[list[AuditLine], bool]:
        """A page of the audit log, newest first, and whether there is an older page."""
        staff, customer = aliased(Staff), aliased(Customer)
        tenant_id = self.ctx.tenant.id
        rows = self.ctx.session.execute(
            select(AuditLog, staff.full_name, customer.phone_number)
            .outerjoin(staff, and_(AuditLog.actor_type == "vendor_user", staff.tenant_id == tenant_id, staff.id == AuditLog.actor_id))
            .outerjoin(customer, and_(AuditLog.actor_type == "customer", customer.tenant_id == tenant_id, customer.id == AuditLog.actor_id))
            .where(AuditLog.tenant_id == tenant_id)
            .order_by(AuditLog.created_at.desc(), AuditLog.id)
            .offset((max(page, 1) - 1) * AUDIT_PAGE)
            .limit(AUDIT_PAGE + 1)
        ).all()
        lines = [
            AuditLine(self._local(entry.created_at), staff_name or phone or entry.actor_type, entry.action, entry.entity_type, entry.details)
            for entry, staff_name, phone in rows[:AUDIT_PAGE]
        ]
        return lines, len(rows) > AUDIT_PAGE

    def _row(self, customer: Customer, spendable: int) -> CustomerRow:
        return CustomerRow(
            customer.id, customer.phone_number, customer.whatsapp_name, customer.member_code, spendable,
            self._local(customer.created_at),
        )

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.ctx.zone)

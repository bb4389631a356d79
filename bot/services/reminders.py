"""Points-expiry reminders: a member whose points expire within the vendor's
`expiry_reminder_days` (default 7) gets one reminder per expiry date (a day in the vendor's
timezone): how many points, the date, and the nearest reward. Marketing: never to someone who
opted out, never for points already spent or expired. A reminder covers the points expiring
within its day as UTC times, so that points are never reminded twice, even after the vendor's
timezone changes. The reminder row is written with ON CONFLICT DO NOTHING before its message is
queued, so running this twice, or twice at once, sends nothing twice."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select

from bot.db import insert_on_conflict
from bot.messages import say
from bot.outbound import MARKETING, notify
from bot.services.context import Context
from bot.services.customers import lock_customers
from bot.services.metrics import Day
from bot.services.points import spendable_balance
from bot.services.rewards import nearest_reward
from models import Customer, CustomerPointsBalance, ExpiryReminder, PointsTransaction, Tenant

DEFAULT_DAYS = 7
SEND_AT = time(10, 0)  # the vendor's local time from which the day's reminders go


def reminder_days(tenant: Tenant) -> int:
    return tenant.settings.get("expiry_reminder_days", DEFAULT_DAYS)


def local_day(tenant: Tenant, now: datetime) -> date:
    return now.astimezone(ZoneInfo(tenant.timezone)).date()


def due_now(tenant: Tenant, now: datetime) -> bool:
    """Reminders go once a day, from 10:00 in the vendor's timezone."""
    return reminder_days(tenant) > 0 and now.astimezone(ZoneInfo(tenant.timezone)).time() >= SEND_AT


class ReminderService:
    """The expiry reminders of the tenant in `ctx` (its scheduled job acts as the system)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def due(self) -> dict:
        """{customer_id: expiry day}: for each opted-in member, the earliest day within the
        horizon on which points no reminder covers yet expire (one message a day at most)."""
        session, tenant, now = self.ctx.session, self.ctx.tenant, self.ctx.now
        zone = ZoneInfo(tenant.timezone)
        today = now.astimezone(zone).date()
        horizon = datetime.combine(today + timedelta(days=reminder_days(tenant) + 1), time(), tzinfo=zone)
        lots = session.execute(
            select(PointsTransaction.customer_id, PointsTransaction.expires_at)
            .join(Customer, (Customer.tenant_id == PointsTransaction.tenant_id) & (Customer.id == PointsTransaction.customer_id))
            .where(*self._unreminded(), PointsTransaction.expires_at < horizon, Customer.opted_in)
        ).all()
        due: dict = {}
        for customer_id, expires_at in lots:
            day = expires_at.astimezone(zone).date()
            due[customer_id] = min(day, due.get(customer_id, day))
        return due

    def remind(self, due: dict) -> int:
        """Record and queue the reminders `due` (as due() gave them); returns how many. Their
        customers' rows are locked first, and their points read again under the lock: what was
        spent, expired or reminded (by another run) since due() is left out."""
        customers = lock_customers(self.ctx.session, self.ctx.tenant.id, due)
        return sum(self._remind(customers[customer_id], day) for customer_id, day in due.items() if customer_id in customers)

    def _remind(self, customer: Customer, day: date) -> bool:
        session, tenant, now = self.ctx.session, self.ctx.tenant, self.ctx.now
        if not customer.opted_in:
            return False
        expiring_from, expiring_until = Day(tenant, day).bounds
        points = int(session.scalar(select(func.sum(PointsTransaction.remaining)).where(
            *self._unreminded(), PointsTransaction.customer_id == customer.id,
            PointsTransaction.expires_at >= expiring_from, PointsTransaction.expires_at < expiring_until,
        )) or 0)
        if not points:
            return False
        row = {"tenant_id": tenant.id, "customer_id": customer.id, "expires_on": day, "points": points,
               "expiring_from": expiring_from, "expiring_until": expiring_until, "created_at": now}
        if not insert_on_conflict(session, ExpiryReminder, row):
            return False
        balance = session.scalar(select(spendable_balance(now)).where(  # points past expiry count for nothing
            CustomerPointsBalance.tenant_id == tenant.id, CustomerPointsBalance.customer_id == customer.id))
        message = say("expiry_reminder", points=points, vendor=tenant.name, when=day,
                      progress=nearest_reward(session, tenant.id, balance or 0, now))
        notify(session, self.ctx.outbox, tenant, customer, message, category=MARKETING, now=now)
        return True

    def _unreminded(self) -> tuple:
        """SQL: the vendor's lots with points left, not expired yet, that no reminder covers."""
        covered = exists().where(
            ExpiryReminder.tenant_id == PointsTransaction.tenant_id, ExpiryReminder.customer_id == PointsTransaction.customer_id,
            ExpiryReminder.expiring_from <= PointsTransaction.expires_at, ExpiryReminder.expiring_until > PointsTransaction.expires_at,
        )
        return (PointsTransaction.tenant_id == self.ctx.tenant.id, PointsTransaction.remaining > 0,
                PointsTransaction.expires_at > self.ctx.now, ~covered)

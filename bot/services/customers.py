"""Enrolment and marketing consent."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import insert_on_conflict
from bot.services import audit, points
from bot.services.context import Context
from models import Customer, CustomerPointsBalance, PhoneRoute, Tenant
from models.base import utcnow


@dataclass(frozen=True)
class Enrollment:
    created: bool
    bonus: int
    balance: int


def find_locked(session: Session, tenant: Tenant, phone: str) -> Customer | None:
    """The customer row, locked until the transaction ends (FOR UPDATE on PostgreSQL;
    SQLite already serialises whole write transactions)."""
    return session.scalars(
        select(Customer)
        .where(Customer.tenant_id == tenant.id, Customer.phone_number == phone)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def route_phone(session: Session, phone: str, tenant: Tenant) -> None:
    """Make `tenant` the vendor this phone talks to when a message names none."""
    insert_on_conflict(
        session,
        PhoneRoute,
        {"phone_number": phone, "tenant_id": tenant.id},
        ["phone_number"],
        update={"tenant_id": tenant.id, "updated_at": utcnow()},
    )


class CustomerService:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def enroll(self, profile_name: str | None, source: str = "whatsapp") -> Enrollment:
        """Join the vendor's programme with consent, once; the welcome bonus goes through the ledger.

        Two JOINs racing from one phone meet on the unique (tenant_id, phone_number) key:
        exactly one inserts, the other waits for it and finds the row."""
        ctx = self.ctx
        created = insert_on_conflict(
            ctx.session,
            Customer,
            {
                "tenant_id": ctx.tenant.id,
                "phone_number": ctx.phone,
                "whatsapp_name": profile_name,
                "source": source,
                "opted_in": True,
                "opted_in_at": ctx.now,
                "last_inbound_at": ctx.now,
                "created_at": ctx.now,
                "updated_at": ctx.now,
            },
            ["tenant_id", "phone_number"],
        )
        customer = ctx.customer = find_locked(ctx.session, ctx.tenant, ctx.phone)
        route_phone(ctx.session, ctx.phone, ctx.tenant)
        bonus = 0
        if created:
            bonus = self._welcome(customer)
        balance = ctx.session.get(CustomerPointsBalance, (customer.tenant_id, customer.id))
        return Enrollment(created, bonus, balance.current_balance)

    def _welcome(self, customer: Customer) -> int:
        ctx = self.ctx
        points.open_balance(ctx.session, customer)
        ctx.session.flush()
        audit.record(
            ctx.session, ctx.tenant.id, "customer.joined", actor_type="customer", actor_id=customer.id,
            entity_type="customer", entity_id=customer.id, source=customer.source,
        )
        bonus = int(ctx.tenant.settings.get("welcome_bonus") or 0)
        if bonus:
            points.credit(
                ctx.session, ctx.tenant, customer, bonus, source="welcome", description="Welcome bonus", now=ctx.now
            )
        return bonus

    def opt_out(self) -> None:
        self._set_consent(False)

    def opt_in(self) -> None:
        self._set_consent(True)

    def _set_consent(self, opted_in: bool) -> None:
        ctx = self.ctx
        customer = ctx.require_customer()
        if customer.opted_in == opted_in:
            return
        customer.opted_in = opted_in
        if opted_in:
            customer.opted_in_at = ctx.now
        else:
            customer.opted_out_at = ctx.now
        audit.record(
            ctx.session, ctx.tenant.id, "customer.opted_in" if opted_in else "customer.opted_out",
            actor_type="customer", actor_id=customer.id, entity_type="customer", entity_id=customer.id,
        )

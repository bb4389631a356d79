"""The vendors one phone has joined, and which of them it is talking to."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot.services.context import Context
from bot.services.customers import route_phone
from models import Customer, CustomerPointsBalance, Tenant


@dataclass(frozen=True)
class Membership:
    code: str
    vendor: str
    balance: int
    current: bool


class ProgramService:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def memberships(self) -> list[Membership]:
        rows = self.ctx.session.execute(
            select(Tenant.vendor_code, Tenant.name, Tenant.id, CustomerPointsBalance.current_balance)
            .join(Customer, Customer.tenant_id == Tenant.id)
            .join(
                CustomerPointsBalance,
                (CustomerPointsBalance.tenant_id == Customer.tenant_id)
                & (CustomerPointsBalance.customer_id == Customer.id),
            )
            .where(Customer.phone_number == self.ctx.phone, Tenant.is_active.is_(True))
            .order_by(Tenant.name)
        ).all()
        return [Membership(row.vendor_code, row.name, row.current_balance, row.id == self.ctx.tenant.id) for row in rows]

    def switch_to(self, code: str) -> str:
        """Route this phone to the vendor `code`; returns the vendor's name."""
        tenant = self.ctx.session.scalars(select(Tenant).where(Tenant.vendor_code == code)).one()
        route_phone(self.ctx.session, self.ctx.phone, tenant)
        return tenant.name

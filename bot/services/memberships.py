"""The vendors one phone has joined, and which of them it is talking to."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot.services.context import Context
from bot.services.customers import route_phone
from bot.services.points import spendable_balance
from models import Customer, CustomerPointsBalance, Tenant


@dataclass(frozen=True)
class Membership:
    code: str
    vendor: str
    balance: int
    current: bool


class MembershipService:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def listed(self) -> list[Membership]:
        """The phone's vendors with the points it can spend at each. Points past their expiry
        are left out rather than expired: that would lock and write the phone's rows at every
        other vendor, for a read."""
        rows = self.ctx.session.execute(
            select(Tenant.vendor_code, Tenant.name, Tenant.id, spendable_balance(self.ctx.now).label("balance"))
            .join(Customer, Customer.tenant_id == Tenant.id)
            .join(
                CustomerPointsBalance,
                (CustomerPointsBalance.tenant_id == Customer.tenant_id)
                & (CustomerPointsBalance.customer_id == Customer.id),
            )
            .where(Customer.phone_number == self.ctx.phone, Tenant.is_active.is_(True))
            .order_by(Tenant.name)
        ).all()
        return [Membership(row.vendor_code, row.name, row.balance, row.id == self.ctx.tenant.id) for row in rows]

    def switch_to(self, code: str, written_to: str) -> tuple[str, str | None]:
        """Route this phone to the vendor `code`. Returns its name, and its own number when
        messages to the number written to keep going elsewhere (`number_elsewhere`)."""
        session = self.ctx.session
        tenant = session.scalars(select(Tenant).where(Tenant.vendor_code == code)).one()
        route_phone(session, self.ctx.phone, tenant)
        return tenant.name, self.number_elsewhere(written_to, tenant)

    def number_elsewhere(self, written_to: str, tenant: Tenant | None = None) -> str | None:
        """The vendor's own number (`tenant`, else this one) when the number written to belongs
        to one other vendor: messages there keep going to that one, whichever the phone talks to."""
        tenant = tenant or self.ctx.tenant
        owners = self.ctx.session.scalars(
            select(Tenant.id).where(Tenant.whatsapp_number == written_to, Tenant.is_active)
        ).all()
        elsewhere = len(owners) == 1 and owners[0] != tenant.id
        return tenant.whatsapp_number if elsewhere else None

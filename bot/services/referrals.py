"""Referrals: a member's personal JOIN link; the friend's first purchase rewards, once (or, if a
void took that back, the friend's next purchase)."""
from __future__ import annotations

import uuid
from datetime import datetime
from urllib.parse import quote

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot.codes import REFERRAL_CODE
from bot.db import insert_on_conflict
from bot.messages import say
from bot.outbound import notify
from bot.phones import wa_me_digits
from bot.services import points
from bot.services.context import Context
from bot.services.missions import complete_missions
from models import Customer, Referral, Tenant


def referral_link(tenant: Tenant, customer: Customer) -> str:
    text = quote(f"JOIN {tenant.vendor_code} R-{customer.member_code}")
    return f"https://wa.me/{wa_me_digits(tenant.whatsapp_number)}?text={text}"


def record_referral(session: Session, tenant: Tenant, newcomer: Customer, text: str) -> None:
    """Link a phone that has just joined to the member whose link it used. Only a new member
    can be referred, and not by itself."""
    match = REFERRAL_CODE.search(text.upper())
    if not match or not tenant.settings.get("referral"):
        return
    referrer_id = session.scalar(
        select(Customer.id).where(Customer.tenant_id == tenant.id, Customer.member_code == match.group(1))
    )
    if referrer_id is None or referrer_id == newcomer.id:
        return
    insert_on_conflict(session, Referral, {
        "tenant_id": tenant.id, "referrer_id": referrer_id, "referred_id": newcomer.id, "created_at": newcomer.created_at,
    })


def unpaid_referrer_of(customer_id):
    """Who referred the customer with id `customer_id` (an SQL expression), at the vendor of
    parameter `tenant`, while that referral is not paid: the customer's next purchase pays it."""
    return select(Referral.referrer_id).where(
        Referral.tenant_id == bindparam("tenant"), Referral.referred_id == customer_id, Referral.rewarded_at.is_(None),
    )


def reward_referral(
    session: Session, outbox: list, tenant: Tenant, newcomer: Customer, now: datetime, purchase_id: uuid.UUID
) -> None:
    """At the referred friend's purchase while the referral is unpaid (their first, or the next
    after a void took it back): the referral points to the referrer, the friend or both, as the
    vendor chose; then the referrer's referral missions. All of it names the purchase, so that a
    void of it takes it back. The caller holds both customers' row locks."""
    referral = session.scalars(
        select(Referral)
        .where(Referral.tenant_id == tenant.id, Referral.referred_id == newcomer.id, Referral.rewarded_at.is_(None))
        .with_for_update()
    ).one_or_none()
    config = tenant.settings.get("referral")
    if referral is None or not config:
        return
    referral.rewarded_at, referral.purchase_id = now, purchase_id
    referrer = session.get(Customer, (tenant.id, referral.referrer_id))
    winners = {"referrer": [referrer], "referred": [newcomer], "both": [referrer, newcomer]}[config["rewarded"]]
    for winner in winners if config["points"] else []:
        points.credit(
            session, tenant, winner, config["points"], source="referral", description=say("ledger.referral"), now=now,
            purchase_id=purchase_id,
        )
        notify(session, outbox, tenant, winner, say("referral_rewarded", points=config["points"], vendor=tenant.name))
    session.flush()
    complete_missions(session, outbox, tenant, referrer, now, {"referral"}, purchase_id)


class ReferralService:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def link(self) -> str:
        return referral_link(self.ctx.tenant, self.ctx.require_customer())

    @property
    def reward(self) -> dict | None:
        return self.ctx.tenant.settings.get("referral")

"""Who a broadcast reaches, and what it says to each of them.

The audience is one SQL query (set-based, so that a preview and a launch over 100,000 members
take a second or two): every member the segment matches, each with the first reason it is
suppressed, or none for a recipient. The reasons apply the delivery engine's rules ahead of time
(bot/services/delivery.py plans each push by the same ones when it goes): marketing never goes
to who opted out; nor beyond the vendor's weekly cap of marketing pushes; nor, on WhatsApp,
outside the 24-hour window without a template; nor to a number Twilio called unreachable."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, exists, false, func, not_, or_, select
from sqlalchemy.orm import Session

from bot.catalog import as_text, render
from bot.db import later
from bot.locales import language_of
from bot.messages import say
from bot.points_rules import tier_name
from bot.services.broadcast_file import REWARD_VARIABLES, Definition, variables_in
from bot.services.delivery import REACHED, WINDOW, marketing_counts, max_marketing_per_week, unreachable_now
from bot.services.points import spendable_balance
from bot.services.rewards import catalog
from models import Customer, CustomerPointsBalance, Purchase, Reward, Tenant, Message

REPLY_HOURS = 72
SUPPRESSIONS = ("opted_out", "frequency_cap", "outside_window", "unreachable")  # checked in this order


def audience(tenant: Tenant, definition: Definition, now: datetime):
    """SELECT customer_id, reason: the members the segment matches; `reason` is the first
    suppression that applies (SUPPRESSIONS), NULL for a recipient."""
    recent = marketing_counts(now, Message.tenant_id == tenant.id).subquery()
    reasons = [
        (not_(Customer.opted_in), "opted_out"),
        (func.coalesce(recent.c.pushes, 0) >= max_marketing_per_week(tenant), "frequency_cap"),
    ]
    query = (
        select(Customer.id.label("customer_id"))
        .outerjoin(CustomerPointsBalance, and_(CustomerPointsBalance.tenant_id == Customer.tenant_id,
                                               CustomerPointsBalance.customer_id == Customer.id))
        .outerjoin(recent, recent.c.customer_id == Customer.id)
        .where(Customer.tenant_id == tenant.id, *_segment(tenant, definition, _balance(now), now))
    )
    if not definition.template:
        channels = _last_inbound(tenant.id)
        query = query.outerjoin(channels, channels.c.customer_id == Customer.id)
        reasons.append((_outside_window(tenant, channels, now), "outside_window"))
    reasons.append((unreachable_now(), "unreachable"))
    return query.add_columns(case(*reasons).label("reason"))


def _balance(now: datetime):
    """SQL: what the member can spend now (lots past their expiry left out, though the hourly job
    has not taken them yet), over their outer-joined CustomerPointsBalance row."""
    return func.coalesce(spendable_balance(now), 0)


def _segment(tenant: Tenant, definition: Definition, balance, now: datetime) -> list:
    segment = definition.segment
    days_ago = {key: now - timedelta(days=segment[key]) for key in
                ("inactive_days", "active_within_days", "joined_within_days", "spent_within_days") if key in segment}
    where = []
    if "tiers" in segment:
        lifetime = func.coalesce(CustomerPointsBalance.total_earned, 0)
        where.append(_in_tiers(tenant.settings.get("tiers", []), segment["tiers"], lifetime))
    if "min_points" in segment:
        where.append(balance >= segment["min_points"])
    if "max_points" in segment:
        where.append(balance <= segment["max_points"])
    if "inactive_days" in segment:
        cutoff = days_ago["inactive_days"]
        where += [Customer.created_at < cutoff,
                  or_(Customer.last_purchase_at.is_(None), Customer.last_purchase_at < cutoff),
                  or_(Customer.last_inbound_at.is_(None), Customer.last_inbound_at < cutoff)]
    if "active_within_days" in segment:
        cutoff = days_ago["active_within_days"]
        where.append(or_(Customer.last_purchase_at >= cutoff, Customer.last_inbound_at >= cutoff))
    if "joined_within_days" in segment:
        where.append(Customer.created_at >= days_ago["joined_within_days"])
    if "spent_within_days" in segment:
        where.append(Customer.id.in_(
            select(Purchase.customer_id)
            .where(Purchase.tenant_id == tenant.id, Purchase.status == "completed",
                   Purchase.created_at >= days_ago["spent_within_days"])
            .group_by(Purchase.customer_id).having(func.sum(Purchase.amount) >= segment["min_spent"])))
    elif "min_spent" in segment:
        where.append(Customer.total_spent >= segment["min_spent"])
    if "phones" in segment:
        where.append(Customer.phone_number.in_(segment["phones"]))
    if definition.retarget_of:
        where.append(Customer.id.in_(_retargeted(tenant.id, definition.retarget_of, definition.retarget)))
    return where


def _in_tiers(tiers: list[dict], names: list[str], lifetime):
    """SQL: the tier the member's lifetime points reach, as the points rules reckon it
    (tier_name), is one of `names`. The stored Customer.tier is only what the last purchase or
    void wrote. A tier holds from its minimum up to the next tier's, so each stretch between
    two minimums is one tier."""
    minimums = sorted({tier["min_points"] for tier in tiers})
    stretches = []
    for low, high in zip(minimums, [*minimums[1:], None]):
        if tier_name(tiers, low) in names:
            stretches.append(lifetime >= low if high is None else and_(lifetime >= low, lifetime < high))
    return or_(false(), *stretches)


def _last_inbound(tenant_id: uuid.UUID):
    """customer_id, last_whatsapp, last_sms: when each member last wrote on each channel."""
    def last(channel: str):
        return func.max(case((Message.channel == channel, Message.created_at)))

    return (
        select(Message.customer_id, last("whatsapp").label("last_whatsapp"), last("sms").label("last_sms"))
        .where(Message.tenant_id == tenant_id, Message.direction == "inbound")
        .group_by(Message.customer_id)
        .subquery()
    )


def _outside_window(tenant: Tenant, channels, now: datetime):
    """The delivery engine's channel rule: a member who last wrote by SMS gets SMS (if the vendor
    has an SMS number), which has no window; on WhatsApp, free text only within 24 hours."""
    in_window = channels.c.last_whatsapp > now - WINDOW
    if not tenant.settings.get("sms_number"):
        return not_(func.coalesce(in_window, False))
    uses_sms = and_(channels.c.last_sms.is_not(None),
                    or_(channels.c.last_whatsapp.is_(None), channels.c.last_sms > channels.c.last_whatsapp))
    return not_(or_(func.coalesce(uses_sms, False), func.coalesce(in_window, False)))


# The recipients of an earlier broadcast, for a follow-up (and its stats)


def pushes_of(tenant_id: uuid.UUID, broadcast_id: uuid.UUID, *where):
    return select(Message.customer_id).where(
        Message.tenant_id == tenant_id, Message.broadcast_id == broadcast_id, *where)


def within(tenant_id: uuid.UUID, broadcast_id: uuid.UUID, customer_id, moment, hours: int):
    """SQL: the customer was sent a push of the broadcast (Twilio took it) at most `hours`
    before `moment` (a reply, an opt-out, a purchase)."""
    pushed = Message.__table__.alias("pushed")
    return exists().where(
        pushed.c.tenant_id == tenant_id, pushed.c.broadcast_id == broadcast_id, pushed.c.customer_id == customer_id,
        pushed.c.status.in_(REACHED), moment >= pushed.c.sent_at, moment < later(pushed.c.sent_at, hours))


def replied(tenant_id: uuid.UUID, broadcast_id: uuid.UUID, since: datetime | None = None):
    """The recipients who wrote to the vendor within REPLY_HOURS of their push (`since`, its
    launch, spares reading the messages from before)."""
    return select(Message.customer_id).where(
        Message.tenant_id == tenant_id, Message.direction == "inbound",
        *([Message.created_at >= since] if since else []),
        within(tenant_id, broadcast_id, Message.customer_id, Message.created_at, REPLY_HOURS))


def _retargeted(tenant_id: uuid.UUID, broadcast_id: uuid.UUID, retarget: str):
    """Recipients the earlier broadcast reached (Twilio took it) who did not read it, or did not
    reply within REPLY_HOURS."""
    reached = pushes_of(tenant_id, broadcast_id, Message.status.in_(REACHED))
    if retarget == "not_read":
        done = pushes_of(tenant_id, broadcast_id, Message.status == "read")
    else:
        done = replied(tenant_id, broadcast_id)
    return reached.except_(done)


# What the text says to each member


@dataclass(frozen=True)
class Member:
    """What a push needs about one member (the delivery engine's customer: id, phone_number,
    language, opted_in) and what its text may say about them."""

    id: uuid.UUID
    phone_number: str
    language: str
    opted_in: bool
    whatsapp_name: str | None
    member_code: str | None
    balance: int


def members(session: Session, tenant: Tenant, customer_ids, now: datetime) -> list[Member]:
    return [Member(*row) for row in session.execute(
        select(Customer.id, Customer.phone_number, Customer.language, Customer.opted_in, Customer.whatsapp_name,
               Customer.member_code, _balance(now))
        .outerjoin(CustomerPointsBalance, and_(CustomerPointsBalance.tenant_id == Customer.tenant_id,
                                               CustomerPointsBalance.customer_id == Customer.id))
        .where(Customer.tenant_id == tenant.id, Customer.id.in_(customer_ids))
        .order_by(Customer.id)
    )]


class Writer:
    """Renders a definition for one member after another (the vendor's rewards read once)."""

    def __init__(self, session: Session, tenant: Tenant, definition: Definition, now: datetime):
        self.tenant = tenant
        self.definition = definition
        self.in_text = variables_in(definition.text)
        uses_rewards = bool(definition.variables & REWARD_VARIABLES)
        self.rewards = sorted(catalog(session, tenant.id, now), key=lambda r: r.points_required) if uses_rewards else []

    def variables(self, member: Member) -> dict[str, str]:
        name = " ".join((member.whatsapp_name or "").split())
        language = language_of(self.tenant, member.language)
        unnamed = render(say("broadcast_unnamed"), language)
        nearest = self._nearest(member.balance)
        return {
            "first_name": name.split(" ")[0] if name else unnamed,
            "name": name or unnamed,
            "points": as_text(member.balance, language),
            "vendor": self.tenant.name,
            "member_code": member.member_code or "",
            "nearest_reward": nearest.name if nearest else "",
            "points_to_nearest_reward": as_text(max(0, nearest.points_required - member.balance) if nearest else 0, language),
        }

    def _nearest(self, balance: int) -> Reward | None:
        """The cheapest reward the member cannot afford yet; else the dearest they can."""
        ahead = [reward for reward in self.rewards if reward.points_required > balance]
        return ahead[0] if ahead else (self.rewards[-1] if self.rewards else None)

    def body(self, member: Member, variables: dict[str, str]) -> str:
        """The text, and the line that says how to stop (in the member's language)."""
        text = self.definition.text.format(**{name: variables[name] for name in self.in_text})
        return f"{text}\n{render(say('broadcast_stop_line'), language_of(self.tenant, member.language))}"

    def template_variables(self, variables: dict[str, str]) -> dict | None:
        if not self.definition.template:
            return None
        return {str(i): variables[name] for i, name in enumerate(self.definition.template.get("variables", []), 1)}

    def push(self, member: Member) -> tuple[Member, str, dict | None]:
        """(customer, body, template variables): one push for bot.outbound.queue_texts."""
        variables = self.variables(member)
        return member, self.body(member, variables), self.template_variables(variables)

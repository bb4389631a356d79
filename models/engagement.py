from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, new_id, utcnow


def _customer_fk(column: str = "customer_id") -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["tenant_id", column], ["customers.tenant_id", "customers.id"], ondelete="CASCADE")


class WheelItem(Base):
    """A segment of a vendor's lucky wheel, from the tenant file (matched by label). `won` and
    `won_today` count wins against `stock` and `daily_cap`; the row is locked to win it."""

    __tablename__ = "wheel_items"
    __table_args__ = (
        UniqueConstraint("tenant_id", "label"),
        CheckConstraint("stock IS NULL OR won <= stock", name="stock_not_exceeded"),
        CheckConstraint("daily_cap IS NULL OR won_today <= daily_cap", name="daily_cap_not_exceeded"),
        CheckConstraint("weight > 0", name="weight_positive"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    label: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # points | reward | extra_spin | nothing
    value: Mapped[int] = mapped_column(default=0)  # points, for kind points
    reward_name: Mapped[str | None] = mapped_column(String(255))
    weight: Mapped[int]
    stock: Mapped[int | None]
    daily_cap: Mapped[int | None]
    won: Mapped[int] = mapped_column(default=0)
    won_today: Mapped[int] = mapped_column(default=0)
    won_on: Mapped[date | None]  # the vendor's local day won_today counts
    is_active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)


class SpinHistory(Base):
    """Every spin: what paid for it, what it won, and the wheel as it was (for its picture)."""

    __tablename__ = "spin_history"
    __table_args__ = (
        _customer_fk(),
        Index("ix_spin_history_customer", "tenant_id", "customer_id", "created_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID]
    wheel_item_id: Mapped[uuid.UUID | None]
    label: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    prize: Mapped[str] = mapped_column(String(255))
    paid_by: Mapped[str] = mapped_column(String(20))  # free | earned | points
    points_spent: Mapped[int] = mapped_column(default=0)
    local_day: Mapped[date]  # the vendor's day, for daily free spins
    message_sid: Mapped[str | None] = mapped_column(String(64))
    redemption_id: Mapped[uuid.UUID | None]
    wheel: Mapped[list] = mapped_column(default=list)  # the labels, in order
    winner: Mapped[int] = mapped_column(default=0)  # index into `wheel`
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MissionCompletion(Base):
    """A mission completed in a period; unique, so it pays out once per period. It remembers
    the purchase that completed it (a friend's, for a referral mission), which a void undoes."""

    __tablename__ = "mission_completions"
    __table_args__ = (
        _customer_fk(),
        UniqueConstraint("tenant_id", "customer_id", "mission", "period"),
        Index("ix_mission_completions_purchase", "tenant_id", "purchase_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID]
    mission: Mapped[str] = mapped_column(String(255))
    period: Mapped[str] = mapped_column(String(20))  # 2026-11-22, 2026-W47, 2026-11, all
    points: Mapped[int]
    purchase_id: Mapped[uuid.UUID | None]  # None only for completions recorded before causes were
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Referral(Base):
    """A friend who joined through a member's link; rewarded once, at their first purchase
    (`purchase_id`). A void of that purchase makes it unrewarded again."""

    __tablename__ = "referrals"
    __table_args__ = (
        _customer_fk("referrer_id"),
        _customer_fk("referred_id"),
        UniqueConstraint("tenant_id", "referred_id"),
        Index("ix_referrals_referrer", "tenant_id", "referrer_id", "rewarded_at"),
        Index("ix_referrals_purchase", "tenant_id", "purchase_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    referrer_id: Mapped[uuid.UUID]
    referred_id: Mapped[uuid.UUID]
    rewarded_at: Mapped[datetime | None]
    purchase_id: Mapped[uuid.UUID | None]  # the purchase that rewarded it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SpinCredit(Base):
    """The spin-credit ledger: every spin earned by a purchase, won on the wheel, used, or taken
    back by a void. `customers.spin_credits` is kept equal to its sum, in the same transaction."""

    __tablename__ = "spin_credits"
    __table_args__ = (
        _customer_fk(),
        Index("ix_spin_credits_customer", "tenant_id", "customer_id", "created_at"),
        Index("ix_spin_credits_purchase", "tenant_id", "purchase_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(20))  # earned | won | used | reversed | opening
    spins: Mapped[int]  # positive: given; negative: taken
    purchase_id: Mapped[uuid.UUID | None]  # the purchase that earned it, or whose void took it back
    spin_id: Mapped[uuid.UUID | None]  # the spin that won it or used it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, new_id, utcnow


class Reward(Base):
    """A reward in a vendor's catalog, from the tenant file. `stock` is the total ever
    offered (None: unlimited); `stock_used` counts the redemptions holding a unit."""

    __tablename__ = "rewards"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        Index("ix_rewards_catalog", "tenant_id", "is_active", "points_required"),
        CheckConstraint("stock IS NULL OR stock_used <= stock", name="stock_not_exceeded"),
        CheckConstraint("stock_used >= 0", name="stock_used_not_negative"),
        CheckConstraint("points_required > 0", name="points_positive"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    points_required: Mapped[int]
    stock: Mapped[int | None]
    stock_used: Mapped[int] = mapped_column(default=0)
    max_per_customer: Mapped[int | None]
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)  # order in the tenant file
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def stock_left(self) -> int | None:
        return None if self.stock is None else self.stock - self.stock_used


class RewardRedemption(Base):
    """Points spent on a reward: a code shown at the counter, `pending` until staff mark it
    `fulfilled` or `cancelled`, or it `expired`."""

    __tablename__ = "reward_redemptions"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "reward_id"], ["rewards.tenant_id", "rewards.id"]),
        # A code means one thing at its vendor, where staff verify it. Keys lead with tenant_id
        # (the schema stays distributable by tenant): the code is unique per vendor.
        UniqueConstraint("tenant_id", "redemption_code"),
        # The picture's URL carries only the token (192 random bits: no two are ever alike).
        Index("ix_reward_redemptions_media_token", "media_token"),
        Index("ix_reward_redemptions_customer", "tenant_id", "customer_id", "status"),
        Index("ix_reward_redemptions_reward", "tenant_id", "reward_id", "customer_id"),
        Index("ix_reward_redemptions_due", "status", "expires_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID]
    reward_id: Mapped[uuid.UUID]
    points_deducted: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    redemption_code: Mapped[str] = mapped_column(String(20))
    # The unguessable part of the URL of the code's QR picture.
    media_token: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    debit_id: Mapped[uuid.UUID | None]  # None for a reward won on the wheel
    verified_by_user_id: Mapped[uuid.UUID | None]
    fulfilled_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancellation_reason: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

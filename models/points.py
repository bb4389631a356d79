from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, new_id, partial, utcnow


def _customer_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"], ondelete="CASCADE"
    )


class PointsTransaction(Base):
    """Append-only points ledger. A credit is also a lot: `remaining` is what is left of it
    to spend or expire, so expiry can take exactly what was not used."""

    __tablename__ = "points_transactions"
    __table_args__ = (
        _customer_fk(),
        Index("ix_points_transactions_customer", "tenant_id", "customer_id", "created_at"),
        # Lots that expire, and rows of a purchase: the index skips the rows it could never find
        # (debits), so an entry that is neither writes two index entries fewer.
        Index("ix_points_transactions_lots", "tenant_id", "customer_id", "expires_at", **partial("expires_at IS NOT NULL")),
        Index("ix_points_transactions_purchase", "tenant_id", "purchase_id", **partial("purchase_id IS NOT NULL")),
        CheckConstraint("remaining IS NULL OR remaining >= 0", name="remaining_not_negative"),
        # Room in each page for `remaining` to be rewritten without index writes (see migration 0006).
        {"postgresql_with": {"fillfactor": 70}},
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID]
    # earned | redeemed | expired | adjusted | reversed
    transaction_type: Mapped[str] = mapped_column(String(20))
    # What caused it: welcome, purchase, redemption, spin, referral...
    source: Mapped[str] = mapped_column(String(30))
    points: Mapped[int]
    remaining: Mapped[int | None]
    expires_at: Mapped[datetime | None]
    purchase_id: Mapped[uuid.UUID | None]
    reward_redemption_id: Mapped[uuid.UUID | None]
    description: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict] = mapped_column(default=dict)
    created_by_user_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PointsLotAllocation(Base):
    """Which lots (credits) a debit consumed, and how much of each: spending takes the
    earliest-expiring points first, and expiry later takes exactly what is left. Expiry
    writes none: a lot emptied past its expiry lost to it what its allocations do not hold."""

    __tablename__ = "points_lot_allocations"
    __table_args__ = (
        Index("ix_points_lot_allocations_debit", "tenant_id", "debit_id"),
        CheckConstraint("points > 0", name="points_positive"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    debit_id: Mapped[uuid.UUID]
    lot_id: Mapped[uuid.UUID]
    points: Mapped[int]


class CustomerPointsBalance(Base):
    """The balance kept beside the ledger for fast reads; always the sum of the ledger."""

    __tablename__ = "customer_points_balance"
    __table_args__ = (
        _customer_fk(),
        CheckConstraint("current_balance >= 0", name="balance_not_negative"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    current_balance: Mapped[int] = mapped_column(default=0)
    total_earned: Mapped[int] = mapped_column(default=0)
    total_redeemed: Mapped[int] = mapped_column(default=0)
    total_expired: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

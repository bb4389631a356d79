from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, new_id, utcnow


class Purchase(Base):
    """A purchase logged by staff. `points_breakdown` records what each rule contributed."""

    __tablename__ = "purchases"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"], ondelete="CASCADE"),
        Index("ix_purchases_customer", "tenant_id", "customer_id", "created_at"),
        Index("ix_purchases_logged_by", "tenant_id", "logged_by_user_id", "created_at"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID]
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units
    currency: Mapped[str] = mapped_column(String(3))
    source: Mapped[str] = mapped_column(String(20), default="whatsapp")
    logged_by_user_id: Mapped[uuid.UUID | None]
    logged_via: Mapped[str] = mapped_column(String(20), default="staff_pin")
    points_awarded: Mapped[int] = mapped_column(default=0)
    points_breakdown: Mapped[list] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(20), default="completed")  # completed | voided
    voided_at: Mapped[datetime | None]
    voided_by_user_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

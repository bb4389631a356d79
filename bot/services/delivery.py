"""Delivery receipts from Twilio's status callbacks."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import WhatsAppMessage

# Receipts can arrive out of order; a status never moves back down this ladder.
_PROGRESS = {"queued": 0, "sending": 1, "accepted": 1, "sent": 2, "delivered": 3, "read": 4}
_FINAL = {"failed", "undelivered"}


def record_status(session: Session, message_sid: str, status: str, error_code: str | None = None) -> bool:
    message = session.scalars(
        select(WhatsAppMessage)
        .where(WhatsAppMessage.message_sid == message_sid, WhatsAppMessage.direction == "outbound")
        .with_for_update()
    ).one_or_none()
    if message is None or not _moves_forward(message.status, status):
        return False
    message.status = status
    if error_code:
        message.error_code = error_code[:20]
    return True


def _moves_forward(current: str, new: str) -> bool:
    if current in _FINAL or current == new:
        return False
    if new in _FINAL:
        return True
    return _PROGRESS.get(new, -1) > _PROGRESS.get(current, -1)

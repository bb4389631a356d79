from __future__ import annotations

import logging
import uuid

from sqlalchemy import select, update

from bot import runtime
from bot.outbound import is_transient
from models import WhatsAppMessage
from models.base import utcnow

log = logging.getLogger(__name__)


def send_message(tenant_id: str, message_id: str) -> str | None:
    """Send one queued outbound message, at most once: the row is claimed (queued -> sending)
    in its own commit before the send, so a duplicate job finds nothing to do."""
    rt = runtime.current()
    key = (WhatsAppMessage.tenant_id == uuid.UUID(tenant_id), WhatsAppMessage.id == uuid.UUID(message_id))
    with rt.db.transaction() as session:
        claimed = session.execute(
            update(WhatsAppMessage).where(*key, WhatsAppMessage.status == "queued").values(status="sending")
        ).rowcount
        message = session.scalars(select(WhatsAppMessage).where(*key)).one_or_none()
    if not claimed or message is None:
        return None
    try:
        sid = rt.sender.send(message)
    except Exception as error:
        _record_failure(rt, key, message_id, error)
        if is_transient(error):
            raise  # RQ retries it
        return None
    with rt.db.transaction() as session:
        session.execute(update(WhatsAppMessage).where(*key).values(status="sent", message_sid=sid, sent_at=utcnow()))
    return sid


def _record_failure(rt, key, message_id: str, error: Exception) -> None:
    transient = is_transient(error)
    log.warning("sending message %s failed (%s): %s", message_id, "will retry" if transient else "final", error)
    with rt.db.transaction() as session:
        session.execute(
            update(WhatsAppMessage)
            .where(*key)
            .values(
                # A transient failure goes back to the queue so that the retry can claim it again.
                status="queued" if transient else "failed",
                error_code=str(getattr(error, "code", "") or "")[:20] or None,
                error_message=str(error)[:255],
            )
        )

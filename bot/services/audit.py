from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from bot.db import write_rows
from models import AuditLog


def record(
    session: Session,
    tenant_id: uuid.UUID,
    action: str,
    *,
    actor_type: str = "system",
    actor_id: uuid.UUID | None = None,
    entity_type: str | None = None,
    entity_id: uuid.UUID | None = None,
    **details,
) -> None:
    write_rows(session, AuditLog, {
        "tenant_id": tenant_id, "actor_type": actor_type, "actor_id": actor_id, "action": action,
        "entity_type": entity_type, "entity_id": entity_id, "details": details,
    })

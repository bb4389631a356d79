"""Queueing outbound messages: written to `whatsapp_messages` as `queued` inside the caller's
transaction; the caller hands the keys (its outbox) to the runtime after commit, whose job sends
them through the delivery engine (bot/services/delivery.py). Every push goes this way: a notice,
a reminder, a broadcast (many pushes at once, `queue_pushes` and `queue_texts`)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy.orm import Session

from bot.catalog import as_text, render
from bot.db import write_rows
from bot.locales import language_of
from bot.messages import Msg
from models import Tenant, Staff, Message
from models.base import new_id, utcnow

MessageKey = tuple[uuid.UUID, uuid.UUID]  # (tenant_id, message id)

# Transactional: what the customer did or is owed (purchase and void notices, reward codes,
# refunds). Marketing: what the vendor wants to tell them (broadcasts, reminders); STOP ends it.
TRANSACTIONAL, MARKETING = "transactional", "marketing"


def notify(
    session: Session, outbox: list[MessageKey], tenant: Tenant, customer, message: Msg, *,
    category: str = TRANSACTIONAL, now: datetime | None = None,
) -> MessageKey:
    """Queue a catalog message to a customer, in their language."""
    return queue_pushes(session, outbox, tenant, [(customer, message)], category=category, now=now)[0]


def queue_pushes(
    session: Session, outbox: list[MessageKey], tenant: Tenant, pushes: Iterable[tuple[Any, Msg]], *,
    category: str, now: datetime | None = None,
) -> list[MessageKey]:
    """Queue many pushes in one INSERT. A customer needs `id`, `phone_number`, `language` and
    `opted_in`. Marketing to a customer who opted out is stored as skipped, never queued."""
    now = now or utcnow()
    rows = [
        _row(tenant, recipient, message.key, render(message, _language(tenant, recipient)), message.media_url,
             _template_variables(tenant, message, _language(tenant, recipient)), category, now)
        for recipient, message in pushes
    ]
    return insert_rows(session, outbox, rows)


def queue_message(
    session: Session, outbox: list[MessageKey], tenant: Tenant, recipient, body: str, *,
    triggered_by: str, media_url: str | None = None, category: str = TRANSACTIONAL,
) -> MessageKey:
    """Queue a text written elsewhere than the catalog: it has no template."""
    return insert_rows(session, outbox, [_row(tenant, recipient, triggered_by, body, media_url, None, category, utcnow())])[0]


def queue_texts(
    session: Session, outbox: list[MessageKey], tenant: Tenant, texts: Iterable[tuple[Any, str, dict | None]], *,
    triggered_by: str, media_url: str | None, category: str, now: datetime, **columns,
) -> list[MessageKey]:
    """Queue many texts written elsewhere than the catalog (a broadcast's), in one INSERT: each
    (customer, body, template variables or None). `columns` are stored on every row (the
    broadcast, its own template)."""
    rows = [_row(tenant, customer, triggered_by, body, media_url, variables, category, now, **columns)
            for customer, body, variables in texts]
    return insert_rows(session, outbox, rows)


def _language(tenant: Tenant, recipient) -> str:
    """Customers read the language they chose, else the vendor's; staff (no choice) the vendor's."""
    return language_of(tenant, getattr(recipient, "language", None))


def _row(tenant: Tenant, recipient, key: str, body: str, media_url: str | None, variables: dict | None,
         category: str, now: datetime, **columns) -> dict:
    """A row to a customer, or to a staff member who is not one (their invitation to choose a PIN).
    `columns` are stored as they are (a broadcast's id, its own template)."""
    suppressed = category == MARKETING and not recipient.opted_in
    return {
        "tenant_id": tenant.id, "id": new_id(), "direction": "outbound",
        "customer_id": None if isinstance(recipient, Staff) else recipient.id,
        # The channel and number are settled when it is sent (the delivery engine's plan).
        "channel": "whatsapp", "from_number": tenant.whatsapp_number, "to_number": recipient.phone_number,
        "body": body, "media": [media_url] if media_url else [], "status": "skipped" if suppressed else "queued",
        "triggered_by": key, "category": category, "content_variables": variables,
        "error_code": "opted_out" if suppressed else None,
        "error_message": "marketing to a customer who opted out" if suppressed else None,
        "created_at": now, "enqueued_at": None if suppressed else now, **columns,
    }


def insert_rows(session: Session, outbox: list[MessageKey], rows: list[dict]) -> list[MessageKey]:
    """Insert outbound rows; the queued ones join the outbox. What they refer to (a customer, a
    broadcast) is flushed first, as a query would."""
    if rows:
        session.flush()
        write_rows(session, Message, rows)
    outbox.extend((row["tenant_id"], row["id"]) for row in rows if row["status"] == "queued")
    return [(row["tenant_id"], row["id"]) for row in rows]


def template_for(tenant: Tenant, key: str) -> dict | None:
    """The vendor's approved WhatsApp template for this message key, if any."""
    return (tenant.settings.get("templates") or {}).get(key)


def _template_variables(tenant: Tenant, message: Msg, language: str) -> dict | None:
    """The template's numbered variables ({"1": ..., "2": ...}) from the message's parameters,
    as text, when the vendor has a template for this message."""
    template = template_for(tenant, message.key)
    if template is None:
        return None
    names = template.get("variables", [])
    return {str(i): as_text(message.params.get(name, ""), language) for i, name in enumerate(names, 1)}

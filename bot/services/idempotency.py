"""Idempotency keys of API requests, and the one-time nonces of the dashboard's forms: a change
is claimed under its key in its own transaction, and its answer stored there, so that a retry
gets the first answer and a racing copy waits on the unique key until the first commits (or
rolls back and leaves the key free)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.db import insert_on_conflict
from models import ApiIdempotencyKey, ApiKey, DashboardFormNonce
from models.base import new_id


@dataclass(frozen=True)
class FirstAnswer:
    """The answer already given under this key, and whether it was to the same request."""

    same_request: bool
    status: int
    body: dict


def claim(session: Session, key: ApiKey, idempotency_key: str, fingerprint: str, now: datetime) -> uuid.UUID | FirstAnswer:
    """The id of the claim, or the first answer given under `idempotency_key`."""
    claim_id = new_id()
    claimed = insert_on_conflict(session, ApiIdempotencyKey, {
        "tenant_id": key.tenant_id, "id": claim_id, "api_key_id": key.id, "key": idempotency_key,
        "request_hash": fingerprint, "created_at": now,
    }, ["tenant_id", "api_key_id", "key"])
    if claimed:
        return claim_id
    first = session.execute(
        select(ApiIdempotencyKey.request_hash, ApiIdempotencyKey.response_status, ApiIdempotencyKey.response_body).where(
            ApiIdempotencyKey.tenant_id == key.tenant_id, ApiIdempotencyKey.api_key_id == key.id,
            ApiIdempotencyKey.key == idempotency_key,
        )
    ).one()
    return FirstAnswer(first.request_hash == fingerprint, first.response_status, first.response_body)


def store_answer(session: Session, tenant_id: uuid.UUID, claim_id: uuid.UUID, status: int, body: dict) -> None:
    session.execute(
        update(ApiIdempotencyKey)
        .where(ApiIdempotencyKey.tenant_id == tenant_id, ApiIdempotencyKey.id == claim_id)
        .values(response_status=status, response_body=body)
    )


def claim_form(session: Session, tenant_id: uuid.UUID, nonce: str, now: datetime) -> str | None:
    """Claim a dashboard form's one-time nonce: None the first time, else the page the first
    submission went on to (`form_went_to`)."""
    if insert_on_conflict(session, DashboardFormNonce, {"tenant_id": tenant_id, "nonce": nonce, "created_at": now},
                          ["tenant_id", "nonce"]):
        return None
    return session.scalar(
        select(DashboardFormNonce.went_to).where(DashboardFormNonce.tenant_id == tenant_id, DashboardFormNonce.nonce == nonce)
    )


def form_went_to(session: Session, tenant_id: uuid.UUID, nonce: str, page: str) -> None:
    session.execute(
        update(DashboardFormNonce)
        .where(DashboardFormNonce.tenant_id == tenant_id, DashboardFormNonce.nonce == nonce)
        .values(went_to=page)
    )

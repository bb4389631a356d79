"""Vendors' keys to the REST API: made and shown once, kept only as a hash, listed, revoked."""
from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from bot.services import audit
from bot.services.context import Context
from models import ApiKey, Tenant
from models.base import new_id

KEY_PREFIX = "lk_"
PREFIX_LENGTH = 11  # "lk_" and 8 characters: enough to tell a vendor's keys apart
# last_used_at is written at most this often, so that busy keys do not write on every request.
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str  # shown once, never stored


class ApiKeyService:
    """The API keys of the tenant in `ctx` (the platform operator makes and ends them)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def create(self, name: str, scopes: list[str]) -> NewKey:
        ctx = self.ctx
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            tenant_id=ctx.tenant.id, id=new_id(), name=name, prefix=secret[:PREFIX_LENGTH], key_hash=hash_key(secret),
            scopes=sorted(set(scopes)), created_at=ctx.now,
        )
        ctx.session.add(key)
        audit.record(
            ctx.session, ctx.tenant.id, "api_key.created", entity_type="api_key", entity_id=key.id,
            after={"name": name, "prefix": key.prefix, "scopes": key.scopes},
        )
        return NewKey(key, secret)

    def revoke(self, prefix: str) -> list[ApiKey]:
        """Revoke the tenant's live keys starting with `prefix` (as `apikeys list` shows them)."""
        ctx = self.ctx
        keys = list(ctx.session.scalars(
            select(ApiKey).where(ApiKey.tenant_id == ctx.tenant.id, ApiKey.prefix == prefix[:PREFIX_LENGTH],
                                 ApiKey.revoked_at.is_(None)).with_for_update()
        ))
        for key in keys:
            key.revoked_at = ctx.now
            audit.record(ctx.session, ctx.tenant.id, "api_key.revoked", entity_type="api_key", entity_id=key.id,
                         before={"revoked": False}, after={"revoked": True})
        return keys


def list_keys(session: Session, tenant: Tenant | None = None) -> list[tuple[ApiKey, str]]:
    """Keys across the platform (or one tenant's) with their tenant's code, the live ones first, newest first."""
    query = select(ApiKey, Tenant.vendor_code).join(Tenant, Tenant.id == ApiKey.tenant_id)
    if tenant is not None:
        query = query.where(ApiKey.tenant_id == tenant.id)
    query = query.order_by(Tenant.vendor_code, ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc())
    return [(key, code) for key, code in session.execute(query)]


_AUTHENTICATE = (
    select(ApiKey, Tenant)
    .join(Tenant, Tenant.id == ApiKey.tenant_id)
    .where(ApiKey.key_hash == bindparam("hash"), ApiKey.revoked_at.is_(None), Tenant.is_active)
)


def authenticate(session: Session, secret: str) -> tuple[ApiKey, Tenant] | None:
    """The live key and its active vendor, or None."""
    if not secret.startswith(KEY_PREFIX):
        return None
    found = session.execute(_AUTHENTICATE, {"hash": hash_key(secret)}).one_or_none()
    return (found.ApiKey, found.Tenant) if found else None


def needs_last_used(key: ApiKey, now: datetime) -> bool:
    return key.last_used_at is None or key.last_used_at <= now - LAST_USED_PRECISION


def mark_used(session: Session, tenant_id: uuid.UUID, key_id: uuid.UUID, now: datetime) -> None:
    """Record that the key was used, unless it was in the last minute (a racing request did)."""
    session.execute(
        update(ApiKey)
        .where(ApiKey.tenant_id == tenant_id, ApiKey.id == key_id,
               or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - LAST_USED_PRECISION))
        .values(last_used_at=now)
    )

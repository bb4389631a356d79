"""What is kept only as long as it can matter, then deleted: the answers kept for retries of API
requests (api_idempotency_keys) and the nonces of dashboard forms (dashboard_form_nonces), a
week after they were written; the dashboard's sign-in links and browser sessions, a day after
they ended. Nothing else reads them once they are that old: a retry, a resent form, a link
pressed again all come within minutes."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, tuple_
from sqlalchemy.orm import Session

from models import ApiIdempotencyKey, DashboardFormNonce, DashboardLink, DashboardSession

KEEP_ANSWERS = timedelta(days=7)  # a client retrying the next day still gets its first answer
KEEP_ENDED = timedelta(days=1)
BATCH = 1000  # rows of a table deleted in one statement, so that no run holds many locks at once


def purge_batch(session: Session, now: datetime) -> int:
    """Delete up to BATCH rows of each table that are past their keeping; how many went."""
    return sum(_delete_some(session, model, condition) for model, condition in _past_keeping(now))


def _past_keeping(now: datetime) -> list:
    answers_from, ended_by = now - KEEP_ANSWERS, now - KEEP_ENDED
    return [
        (ApiIdempotencyKey, ApiIdempotencyKey.created_at < answers_from),
        (DashboardFormNonce, DashboardFormNonce.created_at < answers_from),
        (DashboardLink, DashboardLink.expires_at < ended_by),
        (DashboardSession, or_(DashboardSession.expires_at < ended_by, DashboardSession.ended_at < ended_by)),
    ]


def _delete_some(session: Session, model, condition) -> int:
    key = tuple_(model.tenant_id, model.id)
    some = select(model.tenant_id, model.id).where(condition).limit(BATCH)
    return session.execute(delete(model).where(key.in_(some)).execution_options(synchronize_session=False)).rowcount

"""What is kept only as long as it can matter, then deleted: the answers kept for retries of API
requests (api_idempotency_keys) and the nonces of dashboard forms (dashboard_form_nonces), a
week after they were written; the dashboard's sign-in links and browser sessions, a day after
they ended. Nothing else reads them once they are that old: a retry, a resent form, a link
pressed again all come within minutes."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from models import ApiIdempotencyKey, DashboardFormNonce, DashboardLink, DashboardSession

KEEP_ANSWERS = timedelta(days=7)  # a client retrying the next day still gets its first answer
KEEP_ENDED = timedelta(days=1)


def purge(session: Session, now: datetime) -> int:
    """Delete the rows of each table that are past their keeping; how many went. One statement a
    table, however many rows: nothing else locks rows that old, and a batch by LIMIT would scan
    the table again at each batch (their times have no index)."""
    return sum(session.execute(delete(model).where(condition)).rowcount for model, condition in _past_keeping(now))


def _past_keeping(now: datetime) -> list:
    answers_from, ended_by = now - KEEP_ANSWERS, now - KEEP_ENDED
    return [
        (ApiIdempotencyKey, ApiIdempotencyKey.created_at < answers_from),
        (DashboardFormNonce, DashboardFormNonce.created_at < answers_from),
        (DashboardLink, DashboardLink.expires_at < ended_by),
        (DashboardSession, or_(DashboardSession.expires_at < ended_by, DashboardSession.ended_at < ended_by)),
    ]

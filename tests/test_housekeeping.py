"""The hourly housekeeping job deletes what is kept past its use, and nothing younger."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from models import ApiIdempotencyKey, ApiKey, DashboardFormNonce, DashboardLink, DashboardSession, Staff
from models.base import new_id, utcnow
from tests.api_client import create_key
from tests.test_dashboard import ADA
from workers.housekeeping import purge_expired

DAY = timedelta(days=1)


def test_what_is_past_its_keeping_goes_and_what_is_not_stays(app, mama, db):
    now = utcnow()
    owner, key = _owner(db), _api_key(app, db)
    with db.transaction() as session:
        old_answer, kept_answer = (_answer(session, key, now - age) for age in (8 * DAY, 6 * DAY))
        old_nonce, kept_nonce = (_nonce(session, mama, now - age) for age in (8 * DAY, timedelta()))
        old_link, kept_link = (_link(session, owner, expired=now - age) for age in (2 * DAY, timedelta(hours=1)))
        old_session = _browser(session, owner, expires=now - 2 * DAY)
        signed_out = _browser(session, owner, expires=now + 20 * DAY, ended=now - 2 * DAY)
        kept_session = _browser(session, owner, expires=now + 20 * DAY)
    with app.app_context():
        assert purge_expired() == 5
    assert _ids(db, ApiIdempotencyKey) == {kept_answer}
    assert _ids(db, DashboardFormNonce) == {kept_nonce}
    assert _ids(db, DashboardLink) == {kept_link}
    assert _ids(db, DashboardSession) == {kept_session}
    assert old_answer and old_nonce and old_link and old_session and signed_out  # all made, all gone
    with app.app_context():
        assert purge_expired() == 0


def test_the_job_acts_at_the_apps_time(app, mama, db, clock):
    with db.transaction() as session:
        nonce = _nonce(session, mama, utcnow())
    clock.advance(days=6)
    with app.app_context():
        assert purge_expired() == 0
    clock.advance(days=2)
    with app.app_context():
        assert purge_expired() == 1
    assert nonce not in _ids(db, DashboardFormNonce)


def _owner(db) -> Staff:
    with db.transaction() as session:
        return session.scalars(select(Staff).where(Staff.phone_number == ADA)).one()


def _api_key(app, db) -> ApiKey:
    create_key(app)
    with db.transaction() as session:
        return session.scalars(select(ApiKey)).one()


def _answer(session, key: ApiKey, created_at):
    row_id = new_id()
    session.add(ApiIdempotencyKey(tenant_id=key.tenant_id, id=row_id, api_key_id=key.id, key=f"k-{row_id}",
                                  request_hash="0" * 64, response_status=201, response_body={}, created_at=created_at))
    return row_id


def _nonce(session, tenant, created_at):
    row_id = new_id()
    session.add(DashboardFormNonce(tenant_id=tenant.id, id=row_id, nonce=f"n-{row_id}", created_at=created_at))
    return row_id


def _link(session, owner: Staff, expired):
    row_id = new_id()
    session.add(DashboardLink(tenant_id=owner.tenant_id, id=row_id, vendor_user_id=owner.id, token_hash=row_id.hex * 2,
                              expires_at=expired))
    return row_id


def _browser(session, owner: Staff, expires, ended=None):
    row_id = new_id()
    session.add(DashboardSession(tenant_id=owner.tenant_id, id=row_id, vendor_user_id=owner.id, token_hash=row_id.hex * 2,
                                 expires_at=expires, ended_at=ended))
    return row_id


def _ids(db, model) -> set:
    with db.transaction() as session:
        return set(session.scalars(select(model.id)))

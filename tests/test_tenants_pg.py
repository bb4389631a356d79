"""Loading vendors under real concurrency (PostgreSQL only)."""
from __future__ import annotations

import threading
import time

from sqlalchemy import select, text

from bot.services.tenants import load_tenant
from models import AuditLog, Reward, Tenant, Staff
from tests.conftest import PIN_PEPPER, count, tenant_file


def wait_for_a_lock_wait(db, timeout: float = 10) -> None:
    """Until some transaction on this database waits for a lock another one holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.engine.connect() as connection:  # a transaction sees one snapshot of pg_stat_activity
            waiting = connection.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ))
        if waiting:
            return
        time.sleep(0.02)
    raise AssertionError("the second load never waited for the first")


def test_two_first_loads_of_one_vendor_at_once_both_succeed(app, db):
    """The second load starts while the first has created the vendor but not yet committed:
    it waits for the first, then finds the vendor and updates it (changing nothing)."""
    outcomes: dict[str, object] = {}
    first_loaded, release_first = threading.Event(), threading.Event()

    def load(name: str, before_commit: threading.Event | None = None) -> None:
        try:
            with db.transaction() as session:
                result = load_tenant(session, tenant_file(name="Mama Put Kitchen"), pin_pepper=PIN_PEPPER)
                if before_commit:
                    first_loaded.set()
                    before_commit.wait(10)
            outcomes[name] = "created" if result.created else result.changed
        except Exception as error:  # the test reports it below
            outcomes[name] = error

    first = threading.Thread(target=load, args=("first", release_first))
    second = threading.Thread(target=load, args=("second",))
    first.start()
    assert first_loaded.wait(10)
    second.start()
    wait_for_a_lock_wait(db)
    release_first.set()
    first.join(10)
    second.join(10)
    assert outcomes == {"first": "created", "second": []}  # the second found it and had nothing to change
    assert count(db, Tenant) == 1 and count(db, Staff) == 2 and count(db, Reward) == 2
    with db.sessions() as session:
        assert session.scalars(select(AuditLog.action)).all() == ["tenant.created"]

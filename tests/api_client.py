"""Helpers for the REST API tests: keys made through the real command, a client that sends them."""
from __future__ import annotations

import uuid

import pytest

from bot.services.tenants import load_tenant
from tests.conftest import tenant_file

SALON_NUMBER = "+2349010000000"


def create_key(app, code: str = "MAMA", *scopes: str, name: str = "till 1") -> str:
    """`flask --app wsgi apikeys create`; the key is alone on the last line."""
    args = ["apikeys", "create", "--tenant", code, "--name", name]
    for scope in scopes:
        args += ["--scope", scope]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


class Api:
    def __init__(self, app, key: str | None):
        self.client = app.test_client()
        self.key = key

    def headers(self, idempotency_key: str | None = None, **extra) -> dict:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return {**headers, **extra}

    def get(self, path: str, **params):
        return self.client.get(f"/api/v1{path}", query_string=params, headers=self.headers())

    def post(self, path: str, body: dict | None = None, idempotency_key: str | None = "new", **headers):
        """A POST with a fresh Idempotency-Key unless one is given (None: without the header)."""
        key = str(uuid.uuid4()) if idempotency_key == "new" else idempotency_key
        return self.client.post(f"/api/v1{path}", json=body, headers=self.headers(key, **headers))

    def patch(self, path: str, body: dict):
        return self.client.patch(f"/api/v1{path}", json=body, headers=self.headers())


@pytest.fixture
def api(app, mama):
    return Api(app, create_key(app))


@pytest.fixture
def salon(db):
    """A second vendor, with a reward of its own."""
    config = tenant_file(
        code="SALON", name="Glow Salon", whatsapp_number=SALON_NUMBER, staff=[], wheel=None, missions=[], referral=None,
        rewards=[{"name": "Free trim", "points": 80}],
    )
    with db.transaction() as session:
        return load_tenant(session, config).tenant


@pytest.fixture
def salon_api(app, salon):
    return Api(app, create_key(app, "SALON"))

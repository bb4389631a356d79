"""`Services`, what a flow step receives: each service is made when first asked for, once."""
from __future__ import annotations

from bot.services import PointsService, Services
from bot.services.context import Context
from models.base import utcnow


def test_a_service_is_made_on_first_use_and_kept(app, mama, db, monkeypatch):
    made = []
    monkeypatch.setattr(PointsService, "__init__", lambda self, ctx: made.append(ctx))
    with db.transaction() as session:
        services = Services(Context.at(session, mama, utcnow()))
        assert made == [] and services.tenant.code == "MAMA"
        assert services.points is services.points
        assert made == [services.ctx]

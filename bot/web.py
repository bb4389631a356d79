"""Small public endpoints: health check and the vendors' QR posters."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify
from sqlalchemy import select

from bot.qr import poster_png
from models import Tenant

blueprint = Blueprint("web", __name__)


@blueprint.get("/healthz")
def healthz():
    runtime = current_app.extensions["runtime"]
    checks = {"database": _ok(runtime.db.ping), "redis": _ok(runtime.redis.ping)}
    healthy = all(checks.values())
    return jsonify(status="ok" if healthy else "degraded", **checks), 200 if healthy else 503


@blueprint.get("/qr/<code>.png")
def qr_poster(code: str):
    runtime = current_app.extensions["runtime"]
    with runtime.db.sessions() as session:
        tenant = session.scalars(select(Tenant).where(Tenant.vendor_code == code.upper(), Tenant.is_active)).one_or_none()
        if tenant is None:
            abort(404)
        png = poster_png(tenant.whatsapp_number, tenant.vendor_code, tenant.name)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "public, max-age=3600"})


def _ok(check) -> bool:
    try:
        check()
        return True
    except Exception:
        return False

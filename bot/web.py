"""Small public endpoints: health check, the vendors' QR posters, redemption code pictures."""
from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, current_app, jsonify
from sqlalchemy import select
from werkzeug.routing import BaseConverter

from bot.qr import code_png, poster_png
from bot.wheel import wheel_png
from models import Reward, RewardRedemption, SpinHistory, Tenant

blueprint = Blueprint("web", __name__)


class Token(BaseConverter):
    """A vendor code or a media token: letters, digits, - and _, at most a column's length.
    Anything else in the path is a 404 before any query."""

    regex = r"[A-Za-z0-9_-]{1,64}"


def register(app: Flask) -> None:
    app.url_map.converters["token"] = Token  # before the routes that use it are added
    app.register_blueprint(blueprint)


@blueprint.get("/healthz")
def healthz():
    runtime = current_app.extensions["runtime"]
    checks = {"database": _ok(runtime.db.ping), "redis": _ok(runtime.redis.ping)}
    healthy = all(checks.values())
    return jsonify(status="ok" if healthy else "degraded", **checks), 200 if healthy else 503


@blueprint.get("/qr/<token:code>.png")
def qr_poster(code: str):
    runtime = current_app.extensions["runtime"]
    with runtime.db.sessions() as session:
        tenant = session.scalars(select(Tenant).where(Tenant.vendor_code == code.upper(), Tenant.is_active)).one_or_none()
        if tenant is None:
            abort(404)
        png = poster_png(tenant.whatsapp_number, tenant.vendor_code, tenant.name)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "public, max-age=3600"})


@blueprint.get("/media/<token:token>.png")
def redemption_code_image(token: str):
    """The QR picture of a redemption code. The token is unguessable; nothing else is shown."""
    runtime = current_app.extensions["runtime"]
    with runtime.db.sessions() as session:
        found = session.execute(
            select(RewardRedemption.redemption_code, Reward.name)
            .join(Reward, (Reward.tenant_id == RewardRedemption.tenant_id) & (Reward.id == RewardRedemption.reward_id))
            .where(RewardRedemption.media_token == token)
        ).first()
    if found is None:
        abort(404)
    png = code_png(found.redemption_code, found.name)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=86400"})


@blueprint.get("/media/spin/<uuid:tenant_id>/<uuid:spin_id>.png")
def spin_image(tenant_id, spin_id):
    """The wheel as it was for one spin, stopped on what it won."""
    runtime = current_app.extensions["runtime"]
    with runtime.db.sessions() as session:
        spin = session.get(SpinHistory, (tenant_id, spin_id))
        if spin is None:
            abort(404)
        png = wheel_png(tuple(spin.wheel), spin.winner)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "public, max-age=86400"})


def _ok(check) -> bool:
    try:
        check()
        return True
    except Exception:
        return False

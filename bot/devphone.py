"""The dev phone: chat with the bot from a browser as any phone, with no Twilio account.
Only served when DEV_PHONE=1 and no Twilio account is configured (see Config.serves_dev_phone).
Messages go through the signed webhook like Twilio's."""
from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, current_app, jsonify, render_template, request

from bot.devclient import DevClient
from bot.phones import InvalidPhone, to_e164

blueprint = Blueprint("devphone", __name__, url_prefix="/dev/phone")


@blueprint.get("")
def page():
    return render_template("devphone.html", default_to=DevClient(current_app).default_to())


@blueprint.post("/send")
def send():
    payload = request.get_json(silent=True) or {}
    try:
        phone = to_e164(str(payload.get("from", "")))
        to = to_e164(str(payload["to"])) if payload.get("to") else None
    except InvalidPhone:
        return jsonify(error="Type the phone in international format, like +2348031234567."), 400
    replies = DevClient(current_app).send(phone, str(payload.get("body", "")), to=to, profile_name=payload.get("name"))
    return jsonify(replies=[asdict(reply) for reply in replies])


@blueprint.get("/outbox")
def outbox():
    try:
        phone = to_e164(request.args.get("phone", ""))
    except InvalidPhone:
        return jsonify(messages=[])
    return jsonify(messages=DevClient(current_app).outbound_to(phone))

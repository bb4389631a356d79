"""Plays Twilio for development: builds the form Twilio would post, signs it the way Twilio
does, and sends it through the real webhook. Used by the dev phone page and `flask chat`."""
from __future__ import annotations

import uuid
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Flask
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot.phones import twilio_address
from models import Tenant, Message
from webhooks.twilio import INBOUND_PATH
# The development server's address (`flask serve`'s and `make run`'s defaults): without
# PUBLIC_BASE_URL, the links the bot sends (dashboard, media) point there.
DEV_HOST, DEV_PORT = "127.0.0.1", 5000
# Twilio's WhatsApp sandbox number: where messages go when no vendor has a number yet.
SANDBOX_NUMBER = "+14155238886"


@dataclass(frozen=True)
class DevReply:
    body: str
    media: list[str]


class DevClient:
    def __init__(self, app: Flask):
        self.app = app
        self.runtime = app.extensions["runtime"]

    def default_to(self) -> str:
        with self.runtime.db.sessions() as session:
            number = session.scalar(select(Tenant.whatsapp_number).order_by(Tenant.created_at).limit(1))
        return number or SANDBOX_NUMBER

    def send(self, phone: str, body: str, to: str | None = None, profile_name: str | None = None) -> list[DevReply]:
        form = {
            "MessageSid": f"SMdev{uuid.uuid4().hex[:29]}",
            "AccountSid": "ACdevphone",
            "From": twilio_address(phone, "whatsapp"),
            "To": twilio_address(to or self.default_to(), "whatsapp"),
            "Body": body,
            "NumMedia": "0",
            "ProfileName": profile_name or "Dev Phone",
        }
        config = self.runtime.config
        base = config.public_base_url or f"http://{DEV_HOST}:{DEV_PORT}"
        signature = RequestValidator(config.twilio_auth_token).compute_signature(base + INBOUND_PATH, form)
        response = self.app.test_client().post(
            INBOUND_PATH,
            data=urlencode(form),
            base_url=base,
            headers={"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"},
        )
        if response.status_code != 200:
            return [DevReply(f"(webhook answered HTTP {response.status_code})", [])]
        return parse_twiml(response.get_data(as_text=True))

    def outbound_to(self, phone: str, limit: int = 50) -> list[dict]:
        """Messages the bot sent to this phone outside a reply (notifications, broadcasts)."""
        with self.runtime.db.sessions() as session:
            rows = session.scalars(
                select(Message)
                .where(Message.direction == "outbound", Message.to_number == phone)
                .order_by(Message.created_at.desc())
                .limit(limit)
            ).all()
        return [
            {"id": str(row.id), "body": row.body, "media": row.media, "status": row.status, "at": row.created_at.isoformat()}
            for row in reversed(rows)
        ]


def parse_twiml(xml: str) -> list[DevReply]:
    replies = []
    for message in ElementTree.fromstring(xml).iter("Message"):
        body = message.find("Body")
        text = body.text if body is not None else (message.text or "")
        replies.append(DevReply(text or "", [media.text for media in message.iter("Media")]))
    return replies

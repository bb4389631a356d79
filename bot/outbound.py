"""Outbound messages: written to `whatsapp_messages` as `queued` inside the caller's
transaction, handed to an RQ job after commit, and sent by the configured sender."""
from __future__ import annotations

import logging
import uuid

from sqlalchemy.orm import Session
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from bot.catalog import render
from bot.config import Config
from bot.locales import language_of
from flows.base import Msg
from models import Customer, Tenant, VendorUser, WhatsAppMessage

log = logging.getLogger(__name__)

MessageKey = tuple[uuid.UUID, uuid.UUID]  # (tenant_id, message id)


def queue_message(
    session: Session,
    outbox: list[MessageKey],
    tenant: Tenant,
    recipient: Customer | VendorUser,
    body: str,
    *,
    triggered_by: str,
    media_url: str | None = None,
) -> WhatsAppMessage:
    """To a customer, or to a staff member who is not one (their invitation to choose a PIN)."""
    message = WhatsAppMessage(
        tenant_id=tenant.id,
        customer_id=recipient.id if isinstance(recipient, Customer) else None,
        direction="outbound",
        channel="whatsapp",
        from_number=tenant.whatsapp_number,
        to_number=recipient.phone_number,
        body=body,
        media=[media_url] if media_url else [],
        status="queued",
        triggered_by=triggered_by,
    )
    session.add(message)
    session.flush()
    outbox.append((message.tenant_id, message.id))
    return message


def notify(
    session: Session, outbox: list[MessageKey], tenant: Tenant, recipient: Customer | VendorUser, message: Msg
) -> WhatsAppMessage:
    """Queue a catalog message to a customer, in their language (or to a staff member)."""
    # Staff read the vendor's language; customers the one they chose, else the vendor's.
    language = language_of(tenant, recipient.language if isinstance(recipient, Customer) else None)
    return queue_message(
        session, outbox, tenant, recipient, render(message, language), triggered_by=message.key,
        media_url=message.media_url,
    )


class ConsoleSender:
    """For development without a Twilio account: prints instead of sending."""

    def send(self, message: WhatsAppMessage) -> str:
        media = f" [{', '.join(message.media)}]" if message.media else ""
        print(f"[outbound {message.channel} to {message.to_number}] {message.body}{media}", flush=True)
        return f"SMconsole{uuid.uuid4().hex[:25]}"


class TwilioSender:
    def __init__(self, config: Config):
        self.client = Client(config.twilio_account_sid, config.twilio_auth_token)
        if config.twilio_api_base:
            self.client.api.base_url = config.twilio_api_base
        self.status_callback = f"{config.public_base_url}/webhooks/twilio/status" if config.public_base_url else None

    def send(self, message: WhatsAppMessage) -> str:
        prefix = "whatsapp:" if message.channel == "whatsapp" else ""
        options = {"status_callback": self.status_callback} if self.status_callback else {}
        if message.media:
            options["media_url"] = list(message.media)
        sent = self.client.messages.create(
            from_=prefix + message.from_number, to=prefix + message.to_number, body=message.body, **options
        )
        return sent.sid


def is_transient(error: Exception) -> bool:
    """Worth retrying: Twilio overloaded or unreachable, not a refused message."""
    if isinstance(error, TwilioRestException):
        return error.status == 429 or error.status >= 500
    return True

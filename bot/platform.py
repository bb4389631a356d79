"""The platform's own WhatsApp number as a destination of its own.

Vendors may live on the platform number (customers JOIN them there, and routing finds the
vendor, as on any shared number). What no vendor takes there, and everything a phone sends in
the middle of setting up a vendor, is the platform's own conversation: setting up a vendor by
chat (flows/setup.py). It is a vendor conversation's counterpart for a conversation that
belongs to no vendor: its own flow table, its state on the phone's invitation (locked for the
message, as a customer row is), and its own message log (`platform_messages`), which answers a
retried MessageSid again. The dispatcher asks `claims` before looking for a vendor, and hands
over to `converse`; it runs in the dispatcher's transaction."""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.catalog import render
from bot.db import insert_on_conflict
from bot.dispatcher import REDACTED, Reply
from bot.engine import may_carry_pin
from bot.services.onboarding import (
    SETUP_RESUMABLE, PlatformServices, SetupContext, current_invitation, save_conversation,
    setup_under_way_or_answered,
)
from bot.messages import Inbound, say
from bot.vendor_codes import link_join_code
from flows.base import Outcome, State
from flows.setup import SETUP_FLOW
from models import PlatformMessage


def _asks_setup(inbound: Inbound) -> bool:
    return inbound.words[:1] == ("SETUP",)


class PlatformDesk:
    def __init__(self, number: str | None):
        self.number = number  # None: no platform number, and no setting up by chat

    def is_home(self, inbound: Inbound) -> bool:
        """Whether the message was written to the platform's number."""
        return self.number is not None and inbound.to == self.number

    def claims(self, session: Session, inbound: Inbound, now: datetime, vendor_codes: Collection[str]) -> bool:
        """What it takes, of the messages to its number, before any vendor: SETUP, and anything
        from a phone whose setup is under way but the text of a vendor's JOIN link (the code of
        one of `vendor_codes`, those the text names that exist, and nothing after it but a
        referral): its answers, a business name or a reward ("Join Us Cafe", "Join Mama Cafe"
        while MAMA exists), must not be read as vendor codes. And a retry of a message it
        answered."""
        if _asks_setup(inbound):
            return True
        joins_vendor = link_join_code(inbound.words) in vendor_codes
        return not joins_vendor and setup_under_way_or_answered(session, inbound.phone, inbound.sid, now)

    def converse(self, session: Session, inbound: Inbound, now: datetime) -> list[Reply]:
        ctx = SetupContext(session, inbound.phone, now, self.number, current_invitation(session, inbound.phone, now))
        stored = session.scalar(select(PlatformMessage.reply).where(PlatformMessage.message_sid == inbound.sid))
        if stored is not None:  # looked up after the lock: a racing copy finds the first one's answer
            return [Reply.from_json(item) for item in stored]
        state = State.from_json(ctx.invitation.conversation_state if ctx.invitation else None)
        secret = may_carry_pin(SETUP_FLOW, state, inbound)
        services = PlatformServices(ctx)
        state, messages = self._run(state, inbound, services, now)
        language = services.setup.language()
        replies = [Reply(render(message, language), message.media_url) for message in messages]
        if ctx.invitation is not None:
            save_conversation(ctx.invitation, state.to_json(), state.idle, now)
        insert_on_conflict(session, PlatformMessage, {
            "message_sid": inbound.sid,
            "invitation_id": ctx.invitation.id if ctx.invitation else None,
            "channel": inbound.channel,
            "from_number": inbound.phone,
            "to_number": inbound.to,
            "body": REDACTED if secret else ("SETUP [token]" if _asks_setup(inbound) else inbound.text),
            "reply": [reply.to_json() for reply in replies],
            "created_at": now,
        })
        return replies

    @staticmethod
    def _run(state: State, inbound: Inbound, services: PlatformServices, now: datetime) -> Outcome:
        """The setup flow's engine: SETUP checks the invitation's token; a phone without a usable
        invitation is told how to get one; a setup left for over 24 hours starts over; SETUP in
        the middle of one (the link opened again) picks it up where it stopped. In a setup under
        way, SETUP without the token is an answer ("Setup Studio" as the business name)."""
        setup = services.setup
        under_way = not state.idle and state.updated_at is not None and now - state.updated_at <= SETUP_RESUMABLE
        link_opened = _asks_setup(inbound) and setup.claim(" ".join(inbound.words[1:2]))
        if _asks_setup(inbound) and not link_opened and not under_way:
            return state, [say("setup_invitation_invalid")]
        if not setup.invited:
            return State(), [say("platform_no_invitation")]
        notices = []
        if not state.idle and not under_way:
            state, notices = State(), [say("setup_restarted")]
        step = SETUP_FLOW.steps.get(state.step)
        if state.idle or step is None or link_opened:
            step = SETUP_FLOW.steps["start"]
        state, replies = step(state, inbound, services)
        return replace(state, updated_at=now), notices + replies

"""Reading the dashboard's forms: text to typed values, a friendly message per bad field, and the
notice a page shows after a change went through."""
from __future__ import annotations

import re

from flask import request

from bot.catalog import render
from bot.messages import say

# What a page says after a change (the `done` of its redirect).
NOTICES = {
    "adjusted": "Points adjusted. The customer got a WhatsApp message.",
    "reward_saved": "Reward saved.",
    "redemption_fulfilled": "Reward handed over. The customer got a WhatsApp message.",
    "redemption_cancelled": "Code cancelled: the points are back with the customer.",
    "staff_added": "Added. They got a WhatsApp message inviting them to choose their PIN.",
    "staff_removed": "Removed from your staff.",
    "staff_pin_reset": "PIN cleared. They got a WhatsApp message to choose a new one.",
    "broadcast_saved": "Draft saved. Nothing is sent until you launch it.",
    "broadcast_scheduled": "Scheduled: it goes at its time.",
    "broadcast_sending": "Launched: the figures fill in as the messages go.",
    "broadcast_paused": "Paused: what is queued waits until you resume.",
    "broadcast_cancelled": "Cancelled: nothing more of it is sent.",
    "broadcast_completed": "Sent to everyone.",
    "already_done": "This was already done: sending the form again changed nothing.",
}


def done_notice() -> str | None:
    return NOTICES.get(request.args.get("done", ""))


def bot_says(key: str, **params) -> str:
    """A service's answer (a catalog key), in the bot's own words."""
    return render(say(key, **params))


# An optional sign, then digits, grouped by thousands with commas or spaces or not at all.
_WHOLE_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d{1,3}(?: \d{3})+|\d{1,15})")


def whole_number(errors: dict, name: str, *, required: bool = True) -> int | None:
    """The field as an integer; blank is None when not `required`. A bad value is noted in `errors`."""
    text = request.form.get(name, "").strip()
    if not text:
        if required:
            errors[name] = "Please fill this in."
        return None
    if not _WHOLE_NUMBER.fullmatch(text):  # commas and spaces only between thousands: "1,0" is no number
        errors[name] = "Please type a whole number, like 50."
        return None
    return int(re.sub(r"[, ]", "", text))

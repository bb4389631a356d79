"""Every word the bot says, by language. Flows name a key; the dispatcher renders it here.

Templates use str.format: `{points:,}` groups thousands, `{when:%d %b %Y}` formats a date.
A parameter may itself be a Msg, or a list of them (rendered one per line)."""
from __future__ import annotations

from typing import Any

from flows.base import Msg

DEFAULT_LANGUAGE = "en"

CATALOG: dict[str, dict[str, str]] = {
    "en": {
        # Menu and navigation
        "menu": "*{vendor}* menu\n{items}\n\nReply with a number. HELP for help, PROGRAMS to switch shop.",
        "menu_item": "{number}. {label}",
        "menu.balance": "My points",
        "menu.history": "My history",
        "menu.programs": "My programmes",
        "menu.help": "Help",
        "help": (
            "You are in *{vendor}* rewards.\n"
            "BAL - your points\nHISTORY - recent points\nPROGRAMS - switch shop\n"
            "MENU - the menu\nCANCEL - stop what you are doing\n"
            "STOP - no more offers (START to get them again)"
        ),
        "not_understood": "Sorry, I didn't get that. Reply with a number from the menu, or MENU.",
        "too_many_misses": "Let's start again from the menu.",
        "session_expired": "Your last conversation timed out, so we started afresh.",
        "cancelled": "Cancelled. Nothing was changed.",
        "nothing_to_cancel": "Nothing to cancel.",
        # Inbound message shape
        "empty_message": "I only read text messages. Reply MENU to see what I can do.",
        "media_ignored": "I can't read pictures or voice notes yet, only text.",
        "truncated": "Your message was long, so I read only the first {limit:,} characters.",
        "error": "Sorry, something went wrong on our side. Please try again in a moment.",
        # Joining
        "need_code": (
            "Hi! To join a shop's rewards, send JOIN and the shop's code, "
            "for example JOIN MAMA. You'll find the code on the shop's QR poster."
        ),
        "unknown_code": "Sorry, I couldn't find a shop with the code {code}. Please check it and try again.",
        "not_member": "Welcome to *{vendor}*! To join its rewards, reply JOIN {code}.",
        "welcome": "{greeting}",
        "welcome_bonus": "You got {points:,} welcome points. Your balance: {balance:,} points.",
        "already_member": "You're already a member of *{vendor}*. Your balance: {balance:,} points.",
        # Consent
        "opted_out": (
            "Done: you won't get offers from *{vendor}* any more. "
            "You can still check your points. Reply START to get offers again."
        ),
        "opted_in": "Welcome back! You'll get offers from *{vendor}* again. Reply STOP at any time.",
        # Points
        "balance": "*{vendor}*\nBalance: {balance:,} points\nEarned in total: {earned:,} points",
        "balance_expiry": "{points:,} points expire on {when:%d %b %Y}.",
        "history": "*Your last points*\n{lines}",
        "history_line": "{when:%d %b} {points:+,} {description}",
        "history_empty": "No points yet. They'll show here after your first visit.",
        # Programmes
        "programs": "*Your programmes*\n{lines}\n\nReply with a number to switch.",
        "program_line": "{number}. {vendor} ({balance:,} points){current}",
        "program_current": " - current",
        "program_choose": "Please reply with a number from 1 to {count}, or MENU.",
        "program_switched": "Switched to *{vendor}*.",
    },
}


def render(message: Msg, language: str = DEFAULT_LANGUAGE) -> str:
    templates = CATALOG.get(language, CATALOG[DEFAULT_LANGUAGE])
    template = templates.get(message.key) or CATALOG[DEFAULT_LANGUAGE][message.key]
    params = {name: _render_value(value, language) for name, value in message.params.items()}
    return template.format(**params)


def _render_value(value: Any, language: str) -> Any:
    if isinstance(value, Msg):
        return render(value, language)
    if isinstance(value, (list, tuple)):
        return "\n".join(str(_render_value(item, language)) for item in value)
    return value

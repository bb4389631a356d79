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
        "menu.rewards": "Rewards",
        "menu.codes": "My reward codes",
        "menu.wheel": "Spin the wheel",
        "menu.missions": "Missions",
        "menu.refer": "Invite a friend",
        "menu.top": "Top customers",
        "menu.verify": "Verify a reward code",
        "menu.log": "Log a purchase",
        "menu.void": "Void my last purchase",
        "help": (
            "You are in *{vendor}* rewards.\n"
            "BAL - your points\nREWARDS - what your points get you\nCODES - your reward codes\n"
            "SPIN - the lucky wheel\nMISSIONS - earn bonus points\nREFER - invite a friend\nTOP - this month's top customers\n"
            "HISTORY - recent points\nPROGRAMS - switch shop\n"
            "MENU - the menu\nCANCEL - stop what you are doing\n"
            "STOP - no more offers (START to get them again)"
        ),
        "help_staff": (
            "Staff commands at *{vendor}*:\n"
            "LOG - log a purchase (or at once: LOG 0803 123 4567 15000)\n"
            "VOID - cancel your last purchase (within 15 minutes)\n"
            "VERIFY RD-7KX4QF - check a customer's reward code\n"
            "Your PIN keeps you signed in for 10 minutes."
        ),
        "not_understood": "Sorry, I didn't get that. Reply with a number from the menu, or MENU.",
        "too_many_misses": "Let's start again from the menu.",
        "session_expired": "Your last conversation timed out, so we started again.",
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
        "balance": (
            "*{vendor}*\nBalance: {balance:,} points\nEarned in total: {earned:,} points\n"
            "Your member code: {member_code} (show it at the counter)"
        ),
        "balance_expiry": "{points:,} points expire on {when:%d %b %Y}.",
        "history": "*Your last points*\n{lines}",
        "history_line": "{when:%d %b} {points:+,} {description}",
        "history_empty": "No points yet. They'll show here after your first visit.",
        # Programmes
        "programs": "*Your programmes*\n{lines}\n\nReply with a number to switch.",
        "program_line": "{number}. {vendor} ({balance:,} points){current}",
        "program_current": " - current",
        "program_choose": "Please reply with a number from 1 to {count}, or MENU.",
        "program_switched": "Switched to *{vendor}*. Reply MENU to see what you can do there.",
        "program_switched_elsewhere": "*{vendor}* has its own WhatsApp number: write to {number} to talk to it.",
        # Staff sign-in
        "pin_prompt": "Hi {name}, please send your staff PIN.",
        "pin_wrong": "That PIN is not right. {left} tries left before a 15-minute lock.",
        "pin_locked": "Too many wrong PINs: staff actions are locked until {until:%H:%M}.",
        "confirm_hint": "Reply 1 to confirm or 2 to cancel.",
        # Logging purchases
        "log_ask_customer": "Customer's phone number or member code?",
        "log_bad_customer": "I couldn't read that as a phone number or member code. Try like 0803 123 4567.",
        "log_ask_amount": "Amount spent? (like 15000, 15,000 or 15k)",
        "amount_not_a_number": "That's not an amount I can read.",
        "amount_negative": "The amount can't be negative.",
        "amount_zero": "The amount must be more than zero.",
        "amount_too_precise": "That has more decimals than the currency allows.",
        "amount_too_large": "That's more than the {maximum} limit for one purchase.",
        "log_confirm": "Log {amount} for {customer}? They earn {points:,} points.\n1. Confirm\n2. Cancel",
        "log_confirm_new": (
            "Log {amount} for {customer}? They are new: they'll be enrolled and earn {points:,} points.\n"
            "1. Confirm\n2. Cancel"
        ),
        "log_done": "Logged {amount} for {customer}: {points:,} points. Their balance: {balance:,} points.",
        "purchase_notice": "Thanks for shopping at *{vendor}*! {amount} earned you {points:,} points. Balance: {balance:,} points.\n{progress}",
        "progress_next": "{points:,} more points for {reward}.",
        "progress_can_redeem": "You can redeem {reward} now: reply REWARDS.",
        "progress_none": "Reply BAL any time to see your points.",
        "tier_reached": "Congratulations! You've reached *{tier}* at *{vendor}*.",
        "welcome_by_staff": (
            "{greeting}\nYou've been enrolled at the counter and got {bonus:,} welcome points. "
            "Reply MENU to see what you can do, or START to also get our offers."
        ),
        # Rewards
        "rewards": "*{vendor} rewards* (you have {balance:,} points)\n{lines}\n\nReply with a number to redeem.{more}",
        "reward_line": "{number}. {name} - {points:,} points{stock} - {status}",
        "reward_stock": " ({left} left)",
        "reward_affordable": "you can redeem",
        "reward_missing": "{points:,} more points needed",
        "reward_missing_long": "You need {points:,} more points for {name}. Choose another, or MENU.",
        "rewards_more": " MORE for more rewards.",
        "rewards_none": "There are no rewards to redeem right now. Check again soon!",
        "rewards_choose": "Please reply with a reward number from 1 to {count}, MORE, or MENU.",
        "redeem_confirm": "Redeem {name} for {points:,} points?\nBalance: {before:,} -> {after:,} points\n1. Confirm\n2. Cancel",
        "redeemed": (
            "Done! Your code for {reward} is *{code}*.\nShow it at the counter before {until:%d %b %H:%M}. "
            "Balance: {balance:,} points."
        ),
        "redeem_unavailable": "Sorry, that reward is no longer available. Nothing was spent.",
        "redeem_out_of_stock": "Sorry, that reward has just run out. Nothing was spent.",
        "redeem_limit": "You've already redeemed that reward as many times as allowed. Nothing was spent.",
        "redeem_not_enough": "You don't have enough points for that reward any more. Nothing was spent.",
        "codes": "*Your reward codes*\n{lines}",
        "code_line": "{code} - {reward} (until {until:%d %b %H:%M})",
        "codes_none": "You have no reward codes waiting. Reply REWARDS to see what you can get.",
        "redemption_fulfilled_notice": "Enjoy your {reward}! Thanks for visiting *{vendor}*.",
        "redemption_cancelled_notice": "Your {reward} code was cancelled: {points:,} points are back. Balance: {balance:,} points.",
        "redemption_expired_notice": "Your {reward} code expired unused: {points:,} points are back. Balance: {balance:,} points.",
        "prize_cancelled_notice": "Your {reward} prize code was cancelled by the shop.",
        "prize_expired_notice": "Your {reward} prize code expired unused.",
        # Lucky wheel
        "spins_you_have": "You have {free} free spin(s) today and {earned} earned spin(s). Spinning...",
        "spin_buy": "No spins left. Buy one for {cost:,} points?\n1. Yes, spin\n2. No",
        "spin_none_left": "No spins left today. Come back tomorrow, or earn spins with a purchase!",
        "spin_not_enough_points": "You don't have enough points to buy a spin. Nothing was spent.",
        "wheel_none": "There is no lucky wheel here yet.",
        "spin_result": "{won}\nSpins left: {left}.",
        "spin_won_points": "🎉 You won {prize}!",
        "spin_won_reward": "🎉 You won {prize}! Your code is *{code}*: show it at the counter. Reply CODES to see it again.",
        "spin_won_extra_spin": "🎉 You won an extra spin! Reply SPIN to use it.",
        "spin_won_nothing": "The wheel stopped on: {prize}.",
        # Missions, referrals, leaderboard
        "missions": "*Your missions*\n{lines}",
        "mission_line": "{title}\n{bar} {done:,}/{target:,} - {reward}",
        "mission_reward": "{points:,} points",
        "mission_done": "done ✅",
        "missions_none": "There are no missions right now. Check again soon!",
        "mission_complete": "Mission complete: {title}! You earned {points:,} points.",
        "mission_complete_badge": "Mission complete: {title}! Well done.",
        "mission_badge": "no points, just pride",
        "refer_both": (
            "Invite a friend: share this link. When they join and make their first purchase, "
            "you both get {points:,} points.\n{link}"
        ),
        "refer_referrer": (
            "Invite a friend: share this link. When they join and make their first purchase, "
            "you get {points:,} points.\n{link}"
        ),
        "refer_referred": (
            "Invite a friend: share this link. When they join and make their first purchase, "
            "they get {points:,} points.\n{link}"
        ),
        "refer_none": "There is no referral programme here right now.",
        "referral_rewarded": "Referral bonus: {points:,} points from *{vendor}*. Thank you!",
        "top": "*{vendor}: top customers this month*\n{lines}\n{you}",
        "top_line": "{rank}. {name} - {points:,} points",
        "top_you": "You are number {rank} with {points:,} points.",
        "top_you_none": "Earn points this month to join the board!",
        "top_empty": "No points earned this month yet. Be the first!",
        # Verifying codes (staff)
        "verify_ask_code": "Which code? (like RD-7KX4QF)",
        "code_unknown": "No reward code {code} here. Check the letters and try again.",
        "code_already_fulfilled": "{code} was already used on {when:%d %b %H:%M}, given by {by}.",
        "code_expired": "{code} has expired and can't be used. The customer gets their points back.",
        "code_cancelled": "{code} was cancelled and can't be used.",
        "code_not_pending": "That code was used, cancelled or expired in the meantime. Nothing was changed.",
        "verify_confirm": (
            "{code}: {reward} for {customer}, valid until {until:%d %b %H:%M}.\n"
            "1. Hand it over\n2. Cancel it and refund the points"
        ),
        "verify_confirm_prize": (
            "{code}: {reward} (a wheel prize) for {customer}, valid until {until:%d %b %H:%M}.\n"
            "1. Hand it over\n2. Cancel it"
        ),
        "verify_hint": "Reply 1 to hand it over or 2 to cancel it, or MENU.",
        "redemption_fulfilled": "Done: marked as handed over. The customer has been told.",
        "redemption_cancelled": "Cancelled. The points are back with the customer and the reward is back in stock.",
        # Voiding
        "void_nothing": "You have no purchase from the last 15 minutes to void.",
        "void_confirm": "Void {amount} for {customer} ({points:,} points)?\n1. Confirm\n2. Cancel",
        "voided": "Voided. The points were taken back and the customer told.",
        "void_expired": "That purchase can no longer be voided (over 15 minutes, or already voided).",
        "void_points_spent": "Can't void: the customer has already spent those points.",
        "void_notice": "*{vendor}* cancelled a purchase of {amount}: {points:,} points were taken back. Balance: {balance:,} points.",
        # Points-expiry reminders (scheduled jobs)
        "expiry_reminder": (
            "{points:,} of your *{vendor}* points expire on {when:%d %b %Y}. {progress}\n"
            "Reply STOP for no more reminders and offers."
        ),
        # Broadcasts (the vendor writes the text; these are the bot's parts of it)
        "broadcast_unnamed": "there",  # {first_name} / {name} of a member whose name we do not know: "Hi there!"
        "broadcast_stop_line": "Reply STOP for no more offers.",
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

"""Every word the bot says, by language. Flows name a key; the dispatcher renders it here, in
the reader's language (bot/locales.py says how each language writes numbers, months and money).

Templates use str.format:
- `{points:,}` groups thousands ('1,500', French '1 500'); `{points:+,}` adds the sign;
- `{when:%d %b %Y}` is a date, its month named in the language; `%-d` is the day without a zero;
- a Money parameter is written in the vendor's currency ('₦1,500', French '1 500 ₦');
- a plural key has `one` and `other` forms, chosen by its `count` parameter, and `{points:@points}`
  renders the plural key `points` for that count ('1 point', '20 points');
- a parameter may itself be a Msg, or a list of them (rendered one per line).

Every language has every key of English, in the same order and with the same placeholders
(tests/test_language.py checks it): a new key goes at the same place in each block."""
from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from bot.locales import DEFAULT_LANGUAGE, LOCALES, locale
from bot.messages import Msg
from bot.money import Money, format_money

Template = str | dict[str, str]  # a plural's forms: {"one": ..., "other": ...}

CATALOG: dict[str, dict[str, Template]] = {
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
            "HISTORY - recent points\nPROGRAMS - switch shop\nLANG - change language\n"
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
        "not_a_member": "You're not a member of *{vendor}*: it sends you nothing to stop or start. To join, send JOIN {code}.",
        "not_member": "Welcome to *{vendor}*! To join its rewards, reply JOIN {code}.",
        "staff_which_shop": (
            "You work for several shops: send the command again with the shop's code after it, like LOG {code}.\n{lines}"
        ),
        "staff_which_shop_line": "{code}: {vendor}",
        "welcome": "{greeting}",
        "welcome_bonus": "You got {points:@welcome_points}. Your balance: {balance:@points}.",
        "already_member": "You're already a member of *{vendor}*. Your balance: {balance:@points}.",
        # Consent
        "opted_out": (
            "Done: you won't get offers from *{vendor}* any more. "
            "You can still check your points. Reply START to get offers again."
        ),
        "opted_in": "Welcome back! You'll get offers from *{vendor}* again. Reply STOP at any time.",
        # Points
        "balance": (
            "*{vendor}*\nBalance: {balance:@points}\nEarned in total: {earned:@points}\n"
            "Your member code: {member_code} (show it at the counter)"
        ),
        "balance_expiry": "{points:@points_expire} on {when:%d %b %Y}.",
        "history": "*Your last points*\n{lines}",
        "history_line": "{when:%d %b} {points:+,} {description}",
        "history_empty": "No points yet. They'll show here after your first visit.",
        # Programmes
        "programs": "*Your programmes*\n{lines}\n\nReply with a number to switch.",
        "program_line": "{number}. {vendor} ({balance:@points}){current}",
        "program_current": " - current",
        "program_choose": "Please reply with a number from 1 to {count}, or MENU.",
        "program_switched": "Switched to *{vendor}*. Reply MENU to see what you can do there.",
        "program_switched_elsewhere": "*{vendor}* has its own WhatsApp number: write to {number} to talk to it.",
        "command_elsewhere": "Nothing was done here: *{vendor}* has its own WhatsApp number. Send that to {number}.",
        # Staff sign-in
        "pin_prompt": "Hi {name}, please send your staff PIN.",
        "pin_wrong": "That PIN is not right. {left:@tries} left before a 15-minute lock.",
        "pin_hint": "A staff PIN is 4 to 8 digits: send yours, or CANCEL.",
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
        "log_too_many_points": "That purchase would earn {points:@points}, more than one purchase may ({maximum:@points}). Check the amount, or ask the owner to check the points rules.",
        "log_confirm": "Log {amount} for {customer}? They earn {points:@points}.\n1. Confirm\n2. Cancel",
        "log_confirm_new": (
            "Log {amount} for {customer}? They are new: they'll be enrolled and earn {points:@points}.\n"
            "1. Confirm\n2. Cancel"
        ),
        "log_done": "Logged {amount} for {customer}: {points:@points}. Their balance: {balance:@points}.",
        "purchase_notice": "Thanks for shopping at *{vendor}*! {amount} earned you {points:@points}. Balance: {balance:@points}.\n{progress}",
        "progress_next": "{points:@more_points} for {reward}.",
        "progress_can_redeem": "You can redeem {reward} now: reply REWARDS.",
        "progress_none": "Reply BAL any time to see your points.",
        "tier_reached": "Congratulations! You've reached *{tier}* at *{vendor}*.",
        "welcome_by_staff": (
            "{greeting}\nYou've been enrolled at the counter and got {bonus:@welcome_points}. "
            "Reply MENU to see what you can do, or START to also get our offers."
        ),
        # Rewards
        "rewards": "*{vendor} rewards* (you have {balance:@points})\n{lines}\n\nReply with a number to redeem.{more}",
        "reward_line": "{number}. {name} - {points:@points}{stock} - {status}",
        "reward_stock": " ({left} left)",
        "reward_affordable": "you can redeem",
        "reward_missing": "{points:@more_points} needed",
        "reward_missing_long": "You need {points:@more_points} for {name}. Choose another, or MENU.",
        "rewards_more": " MORE for more rewards.",
        "rewards_none": "There are no rewards to redeem right now. Check again soon!",
        "rewards_choose": "Please reply with a reward number from 1 to {count}, MORE, or MENU.",
        "redeem_confirm": "Redeem {name} for {points:@points}?\nBalance: {before:,} -> {after:@points}\n1. Confirm\n2. Cancel",
        "redeemed": (
            "Done! Your code for {reward} is *{code}*.\nShow it at the counter before {until:%d %b %H:%M}. "
            "Balance: {balance:@points}."
        ),
        "redeem_unavailable": "Sorry, that reward is no longer available. Nothing was spent.",
        "redeem_out_of_stock": "Sorry, that reward has just run out. Nothing was spent.",
        "redeem_limit": "You've already redeemed that reward as many times as allowed. Nothing was spent.",
        "redeem_not_enough": "You don't have enough points for that reward any more. Nothing was spent.",
        "redeem_price_changed": "The shop has just changed {name} to {points:@points}. Nothing was spent: reply REWARDS to choose again.",
        "codes": "*Your reward codes*\n{lines}",
        "code_line": "{code} - {reward} (until {until:%d %b %H:%M})",
        "codes_none": "You have no reward codes waiting. Reply REWARDS to see what you can get.",
        "redemption_fulfilled_notice": "Enjoy your {reward}! Thanks for visiting *{vendor}*.",
        "redemption_cancelled_notice": "Your {reward} code was cancelled: {points:@points_back}{lapsed}. Balance: {balance:@points}.",
        "redemption_expired_notice": "Your {reward} code expired unused: {points:@points_back}{lapsed}. Balance: {balance:@points}.",
        "prize_cancelled_notice": "Your {reward} prize code was cancelled by the shop.",
        "prize_expired_notice": "Your {reward} prize code expired unused.",
        # Lucky wheel
        "spins_you_have": "You have {free:@free_spins} today and {earned:@earned_spins}. Spinning...",
        "spin_buy": "No spins left. Buy one for {cost:@points}?\n1. Yes, spin\n2. No",
        "spin_none_left": "No spins left today. Come back tomorrow, or earn spins with a purchase!",
        "spin_not_enough_points": "You don't have enough points to buy a spin. Nothing was spent.",
        "spin_price_changed": "A spin now costs {cost:@points}. Nothing was spent: reply SPIN to buy one at that price.",
        "wheel_none": "There is no lucky wheel here yet.",
        "spin_result": "{won}\nSpins left: {left}.",
        "spin_won_points": "🎉 You won {points:@points}!",
        "spin_won_reward": "🎉 You won {prize}! Your code is *{code}*: show it at the counter. Reply CODES to see it again.",
        "spin_won_extra_spin": "🎉 You won an extra spin! Reply SPIN to use it.",
        "spin_won_nothing": "The wheel stopped on: {prize}.",
        # Missions, referrals, leaderboard
        "missions": "*Your missions*\n{lines}",
        # A blank line before each mission: a long list is cut there, never between a title and its bar.
        "mission_line": "\n{title}\n{bar} {done:,}/{target:,} - {reward}",
        "mission_reward": "{points:@points}",
        "mission_done": "done ✅",
        "missions_none": "There are no missions right now. Check again soon!",
        "mission_complete": "Mission complete: {title}! You earned {points:@points}.",
        "mission_complete_badge": "Mission complete: {title}! Well done.",
        "mission_badge": "no points, just pride",
        "refer_both": (
            "Invite a friend: share this link. When they join and make their first purchase, "
            "you both get {points:@points}.\n{link}"
        ),
        "refer_referrer": (
            "Invite a friend: share this link. When they join and make their first purchase, "
            "you get {points:@points}.\n{link}"
        ),
        "refer_referred": (
            "Invite a friend: share this link. When they join and make their first purchase, "
            "they get {points:@points}.\n{link}"
        ),
        "refer_none": "There is no referral programme here right now.",
        "referral_rewarded": "Referral bonus: {points:@points} from *{vendor}*. Thank you!",
        "top": "*{vendor}: top customers this month*\n{lines}\n{you}",
        "top_line": "{rank}. {name} - {points:@points}",
        "top_you": "You are number {rank} with {points:@points}.",
        "top_you_none": "Earn points this month to join the board!",
        "top_empty": "No points earned this month yet. Be the first!",
        # Verifying codes (staff)
        "verify_ask_code": "Which code? (like RD-7KX4QF)",
        "code_unknown": "No reward code {code} here. Check the letters and try again.",
        "code_already_fulfilled": "{code} was already used on {when:%d %b %H:%M}, given by {by}.",
        "code_given_by_staff": "staff",
        "code_expired": "{code} has expired and can't be used. The customer gets their points back.",
        "code_expired_prize": "{code} has expired and can't be used.",
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
        "prize_cancelled": "Cancelled. A wheel prize gives no points back; the reward is back in stock.",
        # Voiding
        "void_nothing": "You have no purchase from the last 15 minutes to void.",
        "void_confirm": "Void {amount} for {customer} ({points:@points})?\n1. Confirm\n2. Cancel",
        "voided": "Voided. What it brought (points, spins, missions, referral bonus) was taken back and the customer told.",
        "void_kept": "OK, the purchase stays as it is.",
        "void_expired": "That purchase can no longer be voided (over 15 minutes, or already voided).",
        "void_points_spent": "Can't void: the customer has already spent those points.",
        "void_counted_later": "Can't void: a later purchase of this customer earned a bonus that counted this one. Nothing was changed.",
        "void_notice": "*{vendor}* cancelled a purchase of {amount}: {points:@points_taken_back}.{spins} Balance: {balance:@points}.",
        # Rate limits, languages, plurals and ledger lines (issue 14)
        "limit_messages": "You're sending messages very fast. I'll answer again in a minute.",
        "limit_redemptions": "That's the most rewards you can redeem for now. Please try again in an hour.",
        "limit_wrong_lookups": "Too many numbers or codes not found: lookups are paused for an hour.",
        "menu.language": "Language",
        "greeting_default": "Welcome to {vendor} rewards!",
        "languages": "*Choose your language*\n{lines}\n\nReply with a number, or MENU to go back.",
        "language_line": "{number}. {name}{current}",
        "language_current": " - current",
        "language_choose": "Please reply with a number from 1 to {count}, or MENU.",
        "language_set": "Done: I'll write to you in English.",
        "language_set_staff": "Done: as a member, you'll get {vendor}'s messages in {language}. As staff, I answer you in the shop's language.",
        "points": {"one": "{count:,} point", "other": "{count:,} points"},
        "welcome_points": {"one": "{count:,} welcome point", "other": "{count:,} welcome points"},
        "more_points": {"one": "{count:,} more point", "other": "{count:,} more points"},
        "points_expire": {"one": "{count:,} point expires", "other": "{count:,} points expire"},
        "points_back": {"one": "{count:,} point is back", "other": "{count:,} points are back"},
        "refund_lapsed": {"one": " ({count:,} point had expired meanwhile)", "other": " ({count:,} points had expired meanwhile)"},
        "points_taken_back": {"one": "{count:,} point was taken back", "other": "{count:,} points were taken back"},
        "free_spins": {"one": "{count:,} free spin", "other": "{count:,} free spins"},
        "earned_spins": {"one": "{count:,} earned spin", "other": "{count:,} earned spins"},
        "tries": {"one": "{count:,} try", "other": "{count:,} tries"},
        "ledger.welcome": "Welcome bonus",
        "ledger.purchase": "Purchase {amount}",
        "ledger.void": "Voided purchase {amount}",
        "ledger.redeemed": "Redeemed {reward}",
        "ledger.refund": "Refund: {reward}",
        "ledger.wheel": "Wheel: {label}",
        "ledger.spin_bought": "Bought a spin",
        "ledger.mission": "Mission: {title}",
        "ledger.referral": "Referral bonus",
        "ledger.expired": "Points expired",
        # Setting up a vendor by chat on the platform number; staff by chat; choosing a PIN (issue 14, part 1)
        "platform_no_invitation": (
            "Hi! To join a shop's rewards, send JOIN and the shop's code from its QR poster, like JOIN MAMA.\n"
            "To set up rewards for your own business you need an invitation link from us: "
            "please ask the team that told you about this service."
        ),
        "setup_invitation_invalid": (
            "This invitation can't be used: it may have expired, been used already, or be meant for another phone. "
            "Please ask us for a new one."
        ),
        "setup_restarted": "Your setup was left unfinished for over 24 hours, so we're starting again.",
        "setup_resumed": "Welcome back! Let's carry on where you stopped.",
        "setup_welcome": (
            "Welcome! Let's set up your rewards programme: a few questions, about two minutes. "
            "Reply BACK to change your last answer, or CANCEL to stop. Nothing is created until you confirm."
        ),
        "setup_ask_name": "What is your business called?",
        "setup_first_question": "This is the first question.",
        "setup_cancelled": "Setup cancelled: nothing was created. Open your invitation link again to start over.",
        "setup_ask_type": "What kind of business is *{vendor}*?\n{lines}\n\nReply with a number.",
        "setup_type_line": "{number}. {label}",
        "setup_type.restaurant": "Restaurant or food",
        "setup_type.bar": "Bar or drinks",
        "setup_type.salon": "Salon or beauty",
        "setup_type.shop": "Shop or supermarket",
        "setup_type.pharmacy": "Pharmacy",
        "setup_type.fashion": "Fashion or tailoring",
        "setup_type.services": "Services",
        "setup_type.other": "Something else",
        "setup_choose_hint": "Please reply with a number from 1 to {count}.",
        "setup_ask_code": (
            "Customers join by sending your shop's code. I suggest *{code}*.\n1. Use {code}\n"
            "Or send the code you'd like: 2 to 20 letters or digits."
        ),
        "setup_code_invalid": (
            "{code} can't be a code: use 2 to 20 letters or digits, with at least one letter, "
            "and not an ordinary word or a command like BAL. Send another, or 1 for {suggested}."
        ),
        "setup_code_taken": "{code} is already taken. Send another, or 1 for {suggested}.",
        "setup_code_taken_meanwhile": "Sorry, another shop has just taken the code {code}. Please choose another.",
        "setup_ask_country": "Where is *{vendor}*?\n1. {country}\nOr send the country's name or two-letter code, like GH.",
        "setup_ask_country_typed": "Where is *{vendor}*? Send the country's name or two-letter code, like GH.",
        "setup_country_hint": "I don't know that country. Send its name or two-letter code, like NG or GH.",
        "setup_ask_currency": "Which currency do you sell in?\n1. {currency}\nOr send another three-letter code, like USD.",
        "setup_ask_currency_typed": "Which currency do you sell in? Send its three-letter code, like USD.",
        "setup_currency_hint": "Please send a three-letter currency code, like NGN or USD.",
        "setup_ask_timezone": "Which timezone is the shop in?\n{lines}\n\nReply with a number, or send your city's timezone, like Europe/Paris.",
        "setup_zone_line": "{number}. {zone}{where}",
        "setup_timezone_hint": "Please reply with a number from 1 to {count}, or a timezone name like Africa/Lagos.",
        "setup_ask_bonus": "How many welcome points does a customer get for joining? Send a number, like 50 (0 for none).",
        "setup_number_hint": "Please send a whole number, like 50.",
        "setup_ask_earn": (
            "How much must a customer spend to earn 1 point? Send an amount in {currency}, like {example}. "
            "(Or, for more points at once, like: 5 per 1000.)"
        ),
        "setup_ask_reward": "What is the first reward customers can get with their points? Send its name, like: Free drink",
        "setup_ask_reward_points": "How many points does *{reward}* cost? Send a number, like 500.",
        "setup_ask_pin": (
            "Last step: choose your owner PIN, 4 to 8 digits. You'll send it to log purchases and manage your staff. "
            "I never keep it: only a scrambled copy."
        ),
        "setup_summary": (
            "*Please check:*\nBusiness: {vendor} ({type})\nCode: {code}\nCountry: {country}, {currency}, {timezone}\n"
            "Welcome bonus: {bonus:@points}\nEarning: {earning}\n"
            "First reward: {reward} for {reward_points:@points}\nYour owner PIN: chosen\n\n"
            "1. Create my programme\n2. Cancel\nOr BACK to change an answer."
        ),
        "setup_earning_one": "1 point per {amount} spent",
        "setup_earning_many": "{points:@points} per {amount} spent",
        "setup_done": (
            "🎉 *{vendor}* is ready! Here is your QR poster: print it and put it where customers see it. "
            "Scanning it opens WhatsApp with JOIN {code} typed in."
        ),
        "setup_next": (
            "Your join link, to share anywhere: {link}\n\n"
            "You're the owner. Send LOG to log a purchase, STAFF to manage your staff "
            "(like STAFF ADD 0803 123 4567 Bayo), and HELP for the rest."
        ),
        "help_owner": (
            "As the owner: STAFF lists your staff, STAFF ADD 0803 123 4567 Bayo adds someone, "
            "STAFF REMOVE 0803 123 4567 removes them. PIN changes your PIN. DASHBOARD sends you a link to your dashboard."
        ),
        "pin_not_set": "You haven't chosen your staff PIN yet. Reply PIN to choose it.",
        "pin_choose": "{name}, choose your staff PIN: 4 to 8 digits, not all one digit and not a run like 1234.",
        "pin_rules": "That PIN won't do: use 4 to 8 digits, not all one digit and not a run like 1234. Please send another.",
        "pin_again": "Please send the same PIN again.",
        "pin_mismatch": "The two PINs were different.",
        "pin_chosen": "Your PIN is set. Send LOG to log a purchase: your PIN keeps you signed in for 10 minutes.",
        "staff_owner_only": "Only the owner can manage the staff.",
        "staff_list": "*{vendor} staff*\n{lines}",
        "staff_line": "{name}, {phone} ({role}){pending}",
        "staff_role.owner": "owner",
        "staff_role.admin": "admin",
        "staff_role.staff": "staff",
        "staff_pin_pending": " - has not chosen a PIN yet",
        "staff_usage": "To add someone: STAFF ADD 0803 123 4567 Bayo\nTo remove someone: STAFF REMOVE 0803 123 4567",
        "staff_ask_phone": "The new staff member's phone number? (like 0803 123 4567)",
        "staff_bad_phone": "I couldn't read that as a phone number. Try like 0803 123 4567.",
        "staff_ask_name": "Their name?",
        "staff_add_confirm": (
            "Add {name} ({phone}) to the staff of *{vendor}*? They'll get a message asking them to choose their own PIN.\n"
            "1. Confirm\n2. Cancel"
        ),
        "staff_added": "Done: {name} is on your staff. I've sent them a message to choose their PIN.",
        "staff_already": "{phone} is already on your staff.",
        "staff_invitation": (
            "Hi {name}! *{vendor}* has added you to its staff, so you can log customers' purchases here. "
            "First choose your staff PIN: reply PIN."
        ),
        "staff_remove_choose": "Who should be removed?\n{lines}\n\nReply with a number.",
        "staff_choice": "{number}. {name}, {phone}",
        "staff_choose_hint": "Please reply with a number from 1 to {count}, or CANCEL.",
        "staff_none_to_remove": "There is nobody else on your staff.",
        "staff_remove_confirm": "Remove {name} ({phone}) from your staff? They won't be able to log purchases any more.\n1. Confirm\n2. Cancel",
        "staff_removed": "Done: {name} is no longer on your staff.",
        "staff_not_found": "{phone} is not on your staff.",
        "staff_remove_self": "You can't remove yourself from the staff.",
        # VOID takes back everything a purchase caused (issue 8)
        "void_spins_used": "Can't void: the customer has already used the wheel spins it earned. Nothing was changed.",
        "void_referrer_spent": (
            "Can't void: the member who referred this customer has already spent the referral bonus it earned them. "
            "Nothing was changed."
        ),
        "void_notice_spins": " {spins:@spins_taken_back}.",
        "spins_taken_back": {"one": "{count:,} wheel spin was taken back too", "other": "{count:,} wheel spins were taken back too"},
        "void_referral_notice": (
            "*{vendor}* cancelled the purchase that earned your referral bonus: {points:@points_taken_back}. "
            "Balance: {balance:@points}."
        ),
        # REST API (issue 13): what a change made through a vendor's API key tells the customer
        "points_adjusted_notice": "*{vendor}* adjusted your points by {points:+,} ({reason}). Balance: {balance:@points}.",
        "ledger.adjusted": "Adjusted: {reason}",
        # Points-expiry reminders (scheduled jobs, issue 10)
        "expiry_reminder": (
            "*{vendor}*: {points:@points_expire} on {when:%d %b %Y}. {progress}\n"
            "Reply STOP for no more reminders and offers."
        ),
        # SMS voting (issue 12): short, one SMS each
        "vote_help": "{show}: {line}Vote for: {choices}. Up to {cap} votes per episode. {packages}STOP to opt out.",
        "vote_help_line": "text a contestant's number to {number} ({price} a vote). ",
        "vote_help_package": "{keyword} to {shortcode}: {votes} votes for {price}. ",
        "vote_counted": "Thanks! Your vote for {name} ({number}) is counted.",
        "vote_counted_package": "Thanks! {votes} votes for {name} ({number}) counted. Bought votes left: {left}.",
        "vote_package_bought": "Thanks! {votes} votes added: you have {balance} to spend. Send VOTE, the number and how many, e.g. VOTE 1 10.",
        "vote_closed": "{show}: voting is closed. Thanks for watching!",
        "vote_closed_until": "{show}: voting is closed. Lines open {when:%d %b at %H:%M}.",
        "vote_unknown_contestant": "No contestant {choice} in this vote. Vote for: {choices}.",
        "vote_over_cap": "You've used all {cap} votes for this episode. Thanks for voting!",
        "vote_too_fast": "Slow down: at most {cap} votes a minute. Please vote again in a minute.",
        "vote_no_free_votes": "You've used your free WhatsApp vote for this episode. To vote again, text {number} to {shortcode}.",
        "vote_no_free_votes_no_sms": "You've used your free WhatsApp vote for this episode. Thanks for voting!",
        "vote_no_whatsapp_votes": "{show} takes no votes on WhatsApp. To vote, text {number} to {shortcode}.",
        "vote_no_whatsapp_votes_no_sms": "{show} takes no votes on WhatsApp.",
        "vote_no_package_votes": "You have {balance} bought votes. {offer}",
        "vote_package_offer": "Send {keyword} to {shortcode} to buy {votes}.",
        "vote_stopped": "{show}: you won't get any more SMS from us. Text START to undo.",
        "vote_started": "{show}: welcome back, you'll get our SMS again. Text STOP to opt out.",
        # Broadcasts (the vendor writes the text; these are the bot's parts of it)
        "broadcast_unnamed": "there",  # {first_name} / {name} of a member whose name we do not know: "Hi there!"
        "broadcast_stop_line": "Reply STOP for no more offers.",
        # The owner's dashboard, points adjustments, PIN resets and the print poster (issue 13, dashboard)
        "dashboard_owner_only": "Only the owner can open the dashboard.",
        "dashboard_link": (
            "Your dashboard for *{vendor}*: {link}\nThe link works once, within {minutes} minutes. "
            "Don't forward it: it opens your shop's back office."
        ),
        "dashboard_other_shops": "For another of your shops on this number, send:\n{lines}",
        "dashboard_other_shop": "DASHBOARD {code} for *{vendor}*",
        "secret_reply_not_kept": "(A one-time dashboard link was sent here. Send DASHBOARD for a new one.)",
        "staff_pin_reset": "Done: {name}'s PIN is cleared. I've sent them a message to choose a new one.",
        "staff_pin_reset_notice": "Hi {name}, *{vendor}* has reset your staff PIN. Reply PIN to choose a new one.",
        "poster.headline": "Scan to join {vendor} rewards",
        "poster.bonus": "Get {points:@points} free when you join!",
        "poster.no_bonus": "Collect points every time you visit!",
        "poster.step1": "Scan the code with your phone camera.",
        "poster.step2": "Send the WhatsApp message: JOIN\u00a0{code}",
        "poster.step3": "Show your member code when you pay and collect points.",
        "poster.or_send": "No camera? Send JOIN\u00a0{code} to {number} on WhatsApp.",
    },
    "fr": {
        # Menu et navigation
        "menu": "Menu *{vendor}*\n{items}\n\nRépondez avec un numéro. HELP pour l'aide, PROGRAMS pour changer de boutique.",
        "menu_item": "{number}. {label}",
        "menu.balance": "Mes points",
        "menu.history": "Mon historique",
        "menu.programs": "Mes programmes",
        "menu.help": "Aide",
        "menu.rewards": "Cadeaux",
        "menu.codes": "Mes codes cadeaux",
        "menu.wheel": "Tourner la roue",
        "menu.missions": "Missions",
        "menu.refer": "Inviter un ami",
        "menu.top": "Meilleurs clients",
        "menu.verify": "Vérifier un code cadeau",
        "menu.log": "Enregistrer un achat",
        "menu.void": "Annuler mon dernier achat",
        "help": (
            "Programme fidélité *{vendor}*.\n"
            "BAL - vos points\nREWARDS - ce que vos points vous offrent\nCODES - vos codes cadeaux\n"
            "SPIN - la roue de la chance\nMISSIONS - des points en plus\nREFER - inviter un ami\nTOP - les meilleurs clients du mois\n"
            "HISTORY - vos derniers points\nPROGRAMS - changer de boutique\nLANG - changer de langue\n"
            "MENU - le menu\nCANCEL - arrêter ce que vous faites\n"
            "STOP - plus d'offres (START pour les recevoir à nouveau)"
        ),
        "help_staff": (
            "Commandes du personnel chez *{vendor}* :\n"
            "LOG - enregistrer un achat (ou d'un coup : LOG 0803 123 4567 15000)\n"
            "VOID - annuler votre dernier achat (dans les 15 minutes)\n"
            "VERIFY RD-7KX4QF - vérifier le code cadeau d'un client\n"
            "Votre code PIN vous garde connecté 10 minutes."
        ),
        "not_understood": "Désolé, je n'ai pas compris. Répondez avec un numéro du menu, ou MENU.",
        "too_many_misses": "Reprenons depuis le menu.",
        "session_expired": "Votre conversation avait expiré, alors on recommence.",
        "cancelled": "Annulé. Rien n'a été modifié.",
        "nothing_to_cancel": "Rien à annuler.",
        # Forme du message reçu
        "empty_message": "Je ne lis que les messages écrits. Répondez MENU pour voir ce que je sais faire.",
        "media_ignored": "Je ne sais pas encore lire les photos ni les messages vocaux, seulement le texte.",
        "truncated": "Votre message était long : j'ai lu seulement les {limit:,} premiers caractères.",
        "error": "Désolé, un problème est survenu chez nous. Réessayez dans un instant.",
        # Inscription
        "need_code": (
            "Bonjour ! Pour rejoindre le programme fidélité d'une boutique, envoyez JOIN suivi du code "
            "de la boutique, par exemple JOIN MAMA. Le code est sur l'affiche QR de la boutique."
        ),
        "unknown_code": "Désolé, je ne trouve aucune boutique avec le code {code}. Vérifiez-le et réessayez.",
        "not_a_member": "Vous n'êtes pas membre de *{vendor}* : elle ne vous envoie rien à arrêter ni à reprendre. Pour rejoindre, envoyez JOIN {code}.",
        "not_member": "Bienvenue chez *{vendor}* ! Pour rejoindre son programme fidélité, répondez JOIN {code}.",
        "staff_which_shop": (
            "Vous travaillez pour plusieurs boutiques : renvoyez la commande suivie du code de la boutique, "
            "par exemple LOG {code}.\n{lines}"
        ),
        "staff_which_shop_line": "{code} : {vendor}",
        "welcome": "{greeting}",
        "welcome_bonus": "Vous recevez {points:@welcome_points}. Votre solde : {balance:@points}.",
        "already_member": "Vous êtes déjà membre chez *{vendor}*. Votre solde : {balance:@points}.",
        # Consentement
        "opted_out": (
            "C'est fait : vous ne recevrez plus d'offres de *{vendor}*. "
            "Vous pouvez toujours consulter vos points. Répondez START pour recevoir à nouveau les offres."
        ),
        "opted_in": "Bon retour ! Vous recevrez à nouveau les offres de *{vendor}*. Répondez STOP à tout moment.",
        # Points
        "balance": (
            "*{vendor}*\nSolde : {balance:@points}\nGagnés au total : {earned:@points}\n"
            "Votre code membre : {member_code} (montrez-le à la caisse)"
        ),
        "balance_expiry": "{points:@points_expire} le {when:%-d %b %Y}.",
        "history": "*Vos derniers points*\n{lines}",
        "history_line": "{when:%-d %b} {points:+,} {description}",
        "history_empty": "Pas encore de points. Ils s'afficheront ici après votre première visite.",
        # Programmes
        "programs": "*Vos programmes*\n{lines}\n\nRépondez avec un numéro pour changer.",
        "program_line": "{number}. {vendor} ({balance:@points}){current}",
        "program_current": " - actuel",
        "program_choose": "Répondez avec un numéro de 1 à {count}, ou MENU.",
        "program_switched": "Vous êtes maintenant chez *{vendor}*. Répondez MENU pour voir ce que vous pouvez y faire.",
        "program_switched_elsewhere": "*{vendor}* a son propre numéro WhatsApp : écrivez au {number} pour lui parler.",
        "command_elsewhere": "Rien n'a été fait ici : *{vendor}* a son propre numéro WhatsApp. Envoyez cela au {number}.",
        # Connexion du personnel
        "pin_prompt": "Bonjour {name}, envoyez votre code PIN du personnel.",
        "pin_wrong": "Code PIN incorrect. Encore {left:@tries} avant un blocage de 15 minutes.",
        "pin_hint": "Un code PIN du personnel a 4 à 8 chiffres : envoyez le vôtre, ou CANCEL.",
        "pin_locked": "Trop de codes PIN incorrects : les actions du personnel sont bloquées jusqu'à {until:%H:%M}.",
        "confirm_hint": "Répondez 1 pour confirmer ou 2 pour annuler.",
        # Enregistrer un achat
        "log_ask_customer": "Numéro de téléphone ou code membre du client ?",
        "log_bad_customer": "Je n'arrive pas à lire un numéro de téléphone ou un code membre. Essayez par exemple 0803 123 4567.",
        "log_ask_amount": "Montant dépensé ? (par exemple 15000, 15 000 ou 15k)",
        "amount_not_a_number": "Je n'arrive pas à lire ce montant.",
        "amount_negative": "Le montant ne peut pas être négatif.",
        "amount_zero": "Le montant doit être supérieur à zéro.",
        "amount_too_precise": "Ce montant a plus de décimales que la monnaie n'en permet.",
        "amount_too_large": "C'est plus que la limite de {maximum} pour un achat.",
        "log_too_many_points": "Cet achat rapporterait {points:@points}, plus qu'un achat ne peut en rapporter ({maximum:@points}). Vérifiez le montant, ou demandez au gérant de vérifier les règles de points.",
        "log_confirm": "Enregistrer {amount} pour {customer} ? Le client gagne {points:@points}.\n1. Confirmer\n2. Annuler",
        "log_confirm_new": (
            "Enregistrer {amount} pour {customer} ? C'est un nouveau client : il sera inscrit et gagnera {points:@points}.\n"
            "1. Confirmer\n2. Annuler"
        ),
        "log_done": "Achat de {amount} enregistré pour {customer} : {points:@points}. Son solde : {balance:@points}.",
        "purchase_notice": (
            "Merci de votre visite chez *{vendor}* ! Votre achat de {amount} vous rapporte {points:@points}. "
            "Solde : {balance:@points}.\n{progress}"
        ),
        "progress_next": "Plus que {points:@points} pour {reward}.",
        "progress_can_redeem": "Vous pouvez déjà avoir {reward} : répondez REWARDS.",
        "progress_none": "Répondez BAL à tout moment pour voir vos points.",
        "tier_reached": "Félicitations ! Vous atteignez le niveau *{tier}* chez *{vendor}*.",
        "welcome_by_staff": (
            "{greeting}\nVous avez été inscrit à la caisse et recevez {bonus:@welcome_points}. "
            "Répondez MENU pour voir ce que vous pouvez faire, ou START pour recevoir aussi nos offres."
        ),
        # Cadeaux
        "rewards": "*Cadeaux {vendor}* (vous avez {balance:@points})\n{lines}\n\nRépondez avec un numéro pour en profiter.{more}",
        "reward_line": "{number}. {name} - {points:@points}{stock} - {status}",
        "reward_stock": " (plus que {left})",
        "reward_affordable": "c'est pour vous",
        "reward_missing": "il manque {points:@points}",
        "reward_missing_long": "Il vous manque {points:@points} pour {name}. Choisissez-en un autre, ou MENU.",
        "rewards_more": " MORE pour voir la suite.",
        "rewards_none": "Pas de cadeau disponible pour le moment. Revenez bientôt !",
        "rewards_choose": "Répondez avec un numéro de cadeau de 1 à {count}, MORE ou MENU.",
        "redeem_confirm": "Échanger {points:@points} contre {name} ?\nSolde : {before:,} -> {after:@points}\n1. Confirmer\n2. Annuler",
        "redeemed": (
            "C'est fait ! Votre code pour {reward} : *{code}*.\nMontrez-le à la caisse avant le {until:%-d %b à %H:%M}. "
            "Solde : {balance:@points}."
        ),
        "redeem_unavailable": "Désolé, ce cadeau n'est plus disponible. Rien n'a été dépensé.",
        "redeem_out_of_stock": "Désolé, ce cadeau vient d'être épuisé. Rien n'a été dépensé.",
        "redeem_limit": "Vous avez déjà eu ce cadeau autant de fois que permis. Rien n'a été dépensé.",
        "redeem_not_enough": "Vous n'avez plus assez de points pour ce cadeau. Rien n'a été dépensé.",
        "redeem_price_changed": "La boutique vient de passer {name} à {points:@points}. Rien n'a été dépensé : répondez REWARDS pour choisir à nouveau.",
        "codes": "*Vos codes cadeaux*\n{lines}",
        "code_line": "{code} - {reward} (jusqu'au {until:%-d %b à %H:%M})",
        "codes_none": "Vous n'avez aucun code cadeau en attente. Répondez REWARDS pour voir ce que vous pouvez avoir.",
        "redemption_fulfilled_notice": "Profitez bien : {reward} ! Merci de votre visite chez *{vendor}*.",
        "redemption_cancelled_notice": "Votre code pour {reward} a été annulé : {points:@points_back}{lapsed}. Solde : {balance:@points}.",
        "redemption_expired_notice": "Votre code pour {reward} a expiré sans servir : {points:@points_back}{lapsed}. Solde : {balance:@points}.",
        "prize_cancelled_notice": "Votre code pour le lot {reward} a été annulé par la boutique.",
        "prize_expired_notice": "Votre code pour le lot {reward} a expiré sans servir.",
        # Roue de la chance
        "spins_you_have": "Vous avez {free:@free_spins} aujourd'hui et {earned:@earned_spins}. C'est parti...",
        "spin_buy": "Plus de tours. En acheter un pour {cost:@points} ?\n1. Oui, je tourne\n2. Non",
        "spin_none_left": "Plus de tours aujourd'hui. Revenez demain, ou gagnez des tours avec un achat !",
        "spin_not_enough_points": "Vous n'avez pas assez de points pour acheter un tour. Rien n'a été dépensé.",
        "spin_price_changed": "Un tour coûte maintenant {cost:@points}. Rien n'a été dépensé : répondez SPIN pour en acheter un à ce prix.",
        "wheel_none": "Il n'y a pas encore de roue de la chance ici.",
        "spin_result": "{won}\nTours restants : {left}.",
        "spin_won_points": "🎉 Vous gagnez {points:@points} !",
        "spin_won_reward": "🎉 Vous gagnez {prize} ! Votre code : *{code}*, à montrer à la caisse. Répondez CODES pour le revoir.",
        "spin_won_extra_spin": "🎉 Vous gagnez un tour en plus ! Répondez SPIN pour le jouer.",
        "spin_won_nothing": "La roue s'est arrêtée sur : {prize}.",
        # Missions, parrainage, classement
        "missions": "*Vos missions*\n{lines}",
        "mission_line": "\n{title}\n{bar} {done:,}/{target:,} - {reward}",
        "mission_reward": "{points:@points}",
        "mission_done": "réussie ✅",
        "missions_none": "Pas de mission pour le moment. Revenez bientôt !",
        "mission_complete": "Mission réussie : {title} ! Vous gagnez {points:@points}.",
        "mission_complete_badge": "Mission réussie : {title} ! Bravo.",
        "mission_badge": "pas de points, juste la fierté",
        "refer_both": (
            "Invitez un ami : partagez ce lien. Quand il s'inscrit et fait son premier achat, "
            "vous gagnez chacun {points:@points}.\n{link}"
        ),
        "refer_referrer": (
            "Invitez un ami : partagez ce lien. Quand il s'inscrit et fait son premier achat, "
            "vous gagnez {points:@points}.\n{link}"
        ),
        "refer_referred": (
            "Invitez un ami : partagez ce lien. Quand il s'inscrit et fait son premier achat, "
            "il gagne {points:@points}.\n{link}"
        ),
        "refer_none": "Pas de parrainage ici pour le moment.",
        "referral_rewarded": "Bonus de parrainage de *{vendor}* : {points:@points}. Merci !",
        "top": "*{vendor} : meilleurs clients du mois*\n{lines}\n{you}",
        "top_line": "{rank}. {name} - {points:@points}",
        "top_you": "Vous êtes numéro {rank} avec {points:@points}.",
        "top_you_none": "Gagnez des points ce mois-ci pour entrer au classement !",
        "top_empty": "Personne n'a encore gagné de points ce mois-ci. Soyez le premier !",
        # Vérifier les codes (personnel)
        "verify_ask_code": "Quel code ? (par exemple RD-7KX4QF)",
        "code_unknown": "Aucun code cadeau {code} ici. Vérifiez les lettres et réessayez.",
        "code_already_fulfilled": "{code} a déjà servi le {when:%-d %b à %H:%M}, remis par {by}.",
        "code_given_by_staff": "le personnel",
        "code_expired": "{code} a expiré et ne peut plus servir. Le client récupère ses points.",
        "code_expired_prize": "{code} a expiré et ne peut plus servir.",
        "code_cancelled": "{code} a été annulé et ne peut pas servir.",
        "code_not_pending": "Ce code a servi, a été annulé ou a expiré entre-temps. Rien n'a été modifié.",
        "verify_confirm": (
            "{code} : {reward} pour {customer}, valable jusqu'au {until:%-d %b à %H:%M}.\n"
            "1. Le remettre\n2. L'annuler et rendre les points"
        ),
        "verify_confirm_prize": (
            "{code} : {reward} (un lot de la roue) pour {customer}, valable jusqu'au {until:%-d %b à %H:%M}.\n"
            "1. Le remettre\n2. L'annuler"
        ),
        "verify_hint": "Répondez 1 pour le remettre ou 2 pour l'annuler, ou MENU.",
        "redemption_fulfilled": "C'est fait : marqué comme remis. Le client a été prévenu.",
        "redemption_cancelled": "Annulé. Le client récupère ses points et le cadeau retourne en stock.",
        "prize_cancelled": "Annulé. Un lot de la roue ne rend pas de points ; le cadeau retourne en stock.",
        # Annuler un achat
        "void_nothing": "Vous n'avez aucun achat des 15 dernières minutes à annuler.",
        "void_confirm": "Annuler l'achat de {amount} pour {customer} ({points:@points}) ?\n1. Oui, l'annuler\n2. Non, le garder",
        "voided": "Achat annulé. Ce qu'il avait rapporté (points, tours, missions, bonus de parrainage) a été retiré et le client prévenu.",
        "void_kept": "D'accord, l'achat reste tel quel.",
        "void_expired": "Cet achat ne peut plus être annulé (plus de 15 minutes, ou déjà annulé).",
        "void_points_spent": "Impossible d'annuler : le client a déjà dépensé ces points.",
        "void_counted_later": "Impossible d'annuler : un achat plus récent de ce client a gagné un bonus qui comptait celui-ci. Rien n'a été modifié.",
        "void_notice": "*{vendor}* a annulé un achat de {amount} : {points:@points_taken_back}.{spins} Solde : {balance:@points}.",
        # Limites, langues, pluriels et lignes de l'historique (issue 14)
        "limit_messages": "Vous envoyez beaucoup de messages d'un coup. Je vous réponds à nouveau dans une minute.",
        "limit_redemptions": "Vous avez atteint le maximum de cadeaux pour le moment. Réessayez dans une heure.",
        "limit_wrong_lookups": "Trop de numéros ou de codes introuvables : les recherches sont suspendues pendant une heure.",
        "menu.language": "Langue",
        "greeting_default": "Bienvenue dans le programme fidélité de {vendor} !",
        "languages": "*Choisissez votre langue*\n{lines}\n\nRépondez avec un numéro, ou MENU pour revenir.",
        "language_line": "{number}. {name}{current}",
        "language_current": " - actuelle",
        "language_choose": "Répondez avec un numéro de 1 à {count}, ou MENU.",
        "language_set": "C'est noté : je vous écris en français.",
        "language_set_staff": "C'est noté : en tant que client, vous recevrez les messages de {vendor} en {language}. Au personnel, je réponds dans la langue de la boutique.",
        "points": {"one": "{count:,} point", "other": "{count:,} points"},
        "welcome_points": {"one": "{count:,} point de bienvenue", "other": "{count:,} points de bienvenue"},
        "more_points": {"one": "{count:,} point de plus", "other": "{count:,} points de plus"},
        "points_expire": {"one": "{count:,} point expire", "other": "{count:,} points expirent"},
        "points_back": {"one": "{count:,} point vous est rendu", "other": "{count:,} points vous sont rendus"},
        "refund_lapsed": {"one": " ({count:,} point avait expiré entre-temps)", "other": " ({count:,} points avaient expiré entre-temps)"},
        "points_taken_back": {"one": "{count:,} point a été retiré", "other": "{count:,} points ont été retirés"},
        "free_spins": {"one": "{count:,} tour gratuit", "other": "{count:,} tours gratuits"},
        "earned_spins": {"one": "{count:,} tour gagné", "other": "{count:,} tours gagnés"},
        "tries": {"one": "{count:,} essai", "other": "{count:,} essais"},
        "ledger.welcome": "Bonus de bienvenue",
        "ledger.purchase": "Achat de {amount}",
        "ledger.void": "Achat de {amount} annulé",
        "ledger.redeemed": "Cadeau : {reward}",
        "ledger.refund": "Remboursement : {reward}",
        "ledger.wheel": "Roue : {label}",
        "ledger.spin_bought": "Tour de roue acheté",
        "ledger.mission": "Mission : {title}",
        "ledger.referral": "Bonus de parrainage",
        "ledger.expired": "Points expirés",
        # Créer une boutique par chat sur le numéro de la plateforme ; le personnel par chat ; choisir un PIN (issue 14, partie 1)
        "platform_no_invitation": (
            "Bonjour ! Pour rejoindre le programme fidélité d'une boutique, envoyez JOIN suivi du code "
            "indiqué sur son affiche QR, par exemple JOIN MAMA.\n"
            "Pour créer un programme fidélité pour votre propre commerce, il vous faut un lien d'invitation de notre part : "
            "demandez-le à l'équipe qui vous a parlé de ce service."
        ),
        "setup_invitation_invalid": (
            "Cette invitation ne peut pas être utilisée : elle a peut-être expiré, déjà servi, "
            "ou elle est prévue pour un autre téléphone. "
            "Demandez-nous-en une nouvelle."
        ),
        "setup_restarted": "Votre inscription est restée inachevée plus de 24 heures, alors on recommence depuis le début.",
        "setup_resumed": "Bon retour ! Reprenons là où vous vous étiez arrêté.",
        "setup_welcome": (
            "Bienvenue ! Créons votre programme fidélité : quelques questions, environ deux minutes. "
            "Répondez BACK pour changer votre dernière réponse, ou CANCEL pour arrêter. Rien n'est créé avant votre confirmation."
        ),
        "setup_ask_name": "Quel est le nom de votre commerce ?",
        "setup_first_question": "C'est la première question.",
        "setup_cancelled": "Création annulée : rien n'a été créé. Ouvrez à nouveau votre lien d'invitation pour recommencer.",
        "setup_ask_type": "Quel type de commerce est *{vendor}* ?\n{lines}\n\nRépondez avec un numéro.",
        "setup_type_line": "{number}. {label}",
        "setup_type.restaurant": "Restaurant ou alimentation",
        "setup_type.bar": "Bar ou boissons",
        "setup_type.salon": "Coiffure ou beauté",
        "setup_type.shop": "Boutique ou supermarché",
        "setup_type.pharmacy": "Pharmacie",
        "setup_type.fashion": "Mode ou couture",
        "setup_type.services": "Services",
        "setup_type.other": "Autre chose",
        "setup_choose_hint": "Répondez avec un numéro de 1 à {count}.",
        "setup_ask_code": (
            "Vos clients vous rejoignent en envoyant le code de votre boutique. Je vous propose *{code}*.\n1. Prendre {code}\n"
            "Ou envoyez le code de votre choix : 2 à 20 lettres ou chiffres."
        ),
        "setup_code_invalid": (
            "{code} ne peut pas servir de code : utilisez 2 à 20 lettres ou chiffres, dont au moins une lettre, "
            "et pas un mot courant ni une commande comme BAL. Envoyez-en un autre, ou 1 pour {suggested}."
        ),
        "setup_code_taken": "{code} est déjà pris. Envoyez-en un autre, ou 1 pour {suggested}.",
        "setup_code_taken_meanwhile": "Désolé, une autre boutique vient de prendre le code {code}. Choisissez-en un autre.",
        # Le bot ne reconnaît que les noms de pays anglais : en français, on propose le code à deux lettres.
        "setup_ask_country": (
            "Où se trouve *{vendor}* ?\n1. {country}\nOu envoyez le code du pays en deux lettres, par exemple CI ou SN."
        ),
        "setup_ask_country_typed": "Où se trouve *{vendor}* ? Envoyez le code du pays en deux lettres, par exemple CI ou SN.",
        "setup_country_hint": "Je ne connais pas ce pays. Envoyez son code en deux lettres, par exemple CI, SN ou CM.",
        "setup_ask_currency": (
            "Dans quelle monnaie vendez-vous ?\n1. {currency}\nOu envoyez un autre code à trois lettres, par exemple USD."
        ),
        "setup_ask_currency_typed": "Dans quelle monnaie vendez-vous ? Envoyez son code à trois lettres, par exemple USD.",
        "setup_currency_hint": "Envoyez un code de monnaie à trois lettres, par exemple XOF ou USD.",
        "setup_ask_timezone": (
            "Quel est le fuseau horaire de la boutique ?\n{lines}\n\n"
            "Répondez avec un numéro, ou envoyez le fuseau horaire de votre ville, par exemple Europe/Paris."
        ),
        "setup_zone_line": "{number}. {zone}{where}",
        "setup_timezone_hint": "Répondez avec un numéro de 1 à {count}, ou un fuseau horaire comme Africa/Abidjan.",
        "setup_ask_bonus": (
            "Combien de points de bienvenue un client reçoit-il à son inscription ? "
            "Envoyez un nombre, par exemple 50 (0 pour aucun)."
        ),
        "setup_number_hint": "Envoyez un nombre entier, par exemple 50.",
        # « per » reste en anglais : c'est le mot que le bot lit dans « 5 per 1000 ».
        "setup_ask_earn": (
            "Combien un client doit-il dépenser pour gagner 1 point ? Envoyez un montant en {currency}, par exemple {example}. "
            "(Ou, pour plusieurs points d'un coup, par exemple : 5 per 1000.)"
        ),
        "setup_ask_reward": (
            "Quel est le premier cadeau que vos clients peuvent avoir avec leurs points ? "
            "Envoyez son nom, par exemple : Boisson offerte"
        ),
        "setup_ask_reward_points": "Combien de points coûte *{reward}* ? Envoyez un nombre, par exemple 500.",
        "setup_ask_pin": (
            "Dernière étape : choisissez votre code PIN de propriétaire, de 4 à 8 chiffres. Vous l'enverrez pour enregistrer "
            "des achats et gérer votre personnel. Je ne le garde jamais en clair : seulement une copie brouillée."
        ),
        "setup_summary": (
            "*Vérifiez vos réponses :*\nCommerce : {vendor} ({type})\nCode : {code}\nPays : {country}, {currency}, {timezone}\n"
            "Bonus de bienvenue : {bonus:@points}\nPoints : {earning}\n"
            "Premier cadeau : {reward} pour {reward_points:@points}\nVotre code PIN de propriétaire : choisi\n\n"
            "1. Créer mon programme\n2. Annuler\nOu BACK pour changer une réponse."
        ),
        "setup_earning_one": "1 point pour {amount} dépensés",
        "setup_earning_many": "{points:@points} pour {amount} dépensés",
        "setup_done": (
            "🎉 *{vendor}* est prêt ! Voici votre affiche QR : imprimez-la et mettez-la là où vos clients la verront. "
            "En la scannant, ils ouvrent WhatsApp avec JOIN {code} déjà écrit."
        ),
        "setup_next": (
            "Votre lien d'inscription, à partager partout : {link}\n\n"
            "Vous êtes le propriétaire. Envoyez LOG pour enregistrer un achat, STAFF pour gérer votre personnel "
            "(par exemple STAFF ADD 0803 123 4567 Bayo), et HELP pour le reste."
        ),
        "help_owner": (
            "En tant que propriétaire : STAFF affiche votre personnel, STAFF ADD 0803 123 4567 Bayo ajoute quelqu'un, "
            "STAFF REMOVE 0803 123 4567 le retire. PIN change votre code PIN. DASHBOARD vous envoie un lien vers votre tableau de bord."
        ),
        "pin_not_set": "Vous n'avez pas encore choisi votre code PIN du personnel. Répondez PIN pour le choisir.",
        "pin_choose": (
            "{name}, choisissez votre code PIN du personnel : 4 à 8 chiffres, pas tous pareils et pas une suite comme 1234."
        ),
        "pin_rules": (
            "Ce code PIN ne convient pas : utilisez 4 à 8 chiffres, pas tous pareils et pas une suite comme 1234. "
            "Envoyez-en un autre."
        ),
        "pin_again": "Envoyez encore une fois le même code PIN.",
        "pin_mismatch": "Les deux codes PIN étaient différents.",
        "pin_chosen": (
            "Votre code PIN est enregistré. Envoyez LOG pour enregistrer un achat : "
            "votre code PIN vous garde connecté 10 minutes."
        ),
        "staff_owner_only": "Seul le propriétaire peut gérer le personnel.",
        "staff_list": "*Personnel de {vendor}*\n{lines}",
        "staff_line": "{name}, {phone} ({role}){pending}",
        "staff_role.owner": "propriétaire",
        "staff_role.admin": "administrateur",
        "staff_role.staff": "employé",
        "staff_pin_pending": " - n'a pas encore choisi de code PIN",
        "staff_usage": "Pour ajouter quelqu'un : STAFF ADD 0803 123 4567 Bayo\nPour retirer quelqu'un : STAFF REMOVE 0803 123 4567",
        "staff_ask_phone": "Le numéro de téléphone du nouveau membre du personnel ? (par exemple 0803 123 4567)",
        "staff_bad_phone": "Je n'arrive pas à lire ce numéro de téléphone. Essayez par exemple 0803 123 4567.",
        "staff_ask_name": "Son nom ?",
        "staff_add_confirm": (
            "Ajouter {name} ({phone}) au personnel de *{vendor}* ? "
            "Cette personne recevra un message pour choisir son propre code PIN.\n"
            "1. Confirmer\n2. Annuler"
        ),
        "staff_added": "C'est fait : {name} fait partie de votre personnel. Je lui ai envoyé un message pour choisir son code PIN.",
        "staff_already": "{phone} fait déjà partie de votre personnel.",
        "staff_invitation": (
            "Bonjour {name} ! *{vendor}* vous a ajouté à son personnel : vous pouvez enregistrer ici les achats des clients. "
            "Choisissez d'abord votre code PIN du personnel : répondez PIN."
        ),
        "staff_remove_choose": "Qui faut-il retirer ?\n{lines}\n\nRépondez avec un numéro.",
        "staff_choice": "{number}. {name}, {phone}",
        "staff_choose_hint": "Répondez avec un numéro de 1 à {count}, ou CANCEL.",
        "staff_none_to_remove": "Il n'y a personne d'autre dans votre personnel.",
        "staff_remove_confirm": (
            "Retirer {name} ({phone}) de votre personnel ? Cette personne ne pourra plus enregistrer d'achats.\n"
            "1. Confirmer\n2. Annuler"
        ),
        "staff_removed": "C'est fait : {name} ne fait plus partie de votre personnel.",
        "staff_not_found": "{phone} ne fait pas partie de votre personnel.",
        "staff_remove_self": "Vous ne pouvez pas vous retirer vous-même du personnel.",
        # L'annulation reprend tout ce que l'achat avait rapporté (issue 8)
        "void_spins_used": (
            "Annulation impossible : le client a déjà utilisé les tours de roue gagnés avec cet achat. Rien n'a été changé."
        ),
        "void_referrer_spent": (
            "Annulation impossible : le membre qui a parrainé ce client a déjà dépensé le bonus de parrainage "
            "gagné avec cet achat. Rien n'a été changé."
        ),
        "void_notice_spins": " {spins:@spins_taken_back}.",
        "spins_taken_back": {"one": "{count:,} tour de roue a aussi été repris", "other": "{count:,} tours de roue ont aussi été repris"},
        "void_referral_notice": (
            "*{vendor}* a annulé l'achat qui vous avait valu votre bonus de parrainage : {points:@points_taken_back}. "
            "Solde : {balance:@points}."
        ),
        # API REST (issue 13) : ce qu'un changement fait avec une clé d'API de la boutique dit au client
        "points_adjusted_notice": "*{vendor}* a ajusté vos points de {points:+,} ({reason}). Solde : {balance:@points}.",
        "ledger.adjusted": "Ajustement : {reason}",
        # Rappels d'expiration des points (tâches planifiées, issue 10)
        "expiry_reminder": (
            "*{vendor}* : {points:@points_expire} le {when:%d %b %Y}. {progress}\n"
            "Répondez STOP pour ne plus recevoir de rappels ni d'offres."
        ),
        # SMS voting (issue 12): short, one SMS each
        "vote_help": "{show} : {line}Votez pour : {choices}. Jusqu'à {cap} votes par épisode. {packages}STOP pour ne plus recevoir nos SMS.",
        "vote_help_line": "envoyez le numéro d'un candidat au {number} ({price} le vote). ",
        "vote_help_package": "{keyword} au {shortcode} : {votes} votes pour {price}. ",
        "vote_counted": "Merci ! Votre vote pour {name} ({number}) est compté.",
        "vote_counted_package": "Merci ! {votes} votes pour {name} ({number}) comptés. Votes achetés restants : {left}.",
        "vote_package_bought": (
            "Merci ! {votes} votes ajoutés : vous en avez {balance} à utiliser. "
            "Envoyez VOTE, le numéro et le nombre, par exemple VOTE 1 10."
        ),
        "vote_closed": "{show} : les votes sont clos. Merci d'avoir regardé !",
        "vote_closed_until": "{show} : les votes sont clos. Ils ouvrent le {when:%d %b à %H:%M}.",
        "vote_unknown_contestant": "Pas de candidat {choice} dans ce vote. Votez pour : {choices}.",
        "vote_over_cap": "Vous avez utilisé vos {cap} votes pour cet épisode. Merci d'avoir voté !",
        "vote_too_fast": "Doucement : {cap} votes par minute au plus. Votez à nouveau dans une minute.",
        "vote_no_free_votes": (
            "Vous avez utilisé votre vote WhatsApp gratuit pour cet épisode. Pour voter encore, envoyez {number} au {shortcode}."
        ),
        "vote_no_free_votes_no_sms": "Vous avez utilisé votre vote WhatsApp gratuit pour cet épisode. Merci d'avoir voté !",
        "vote_no_whatsapp_votes": "{show} ne prend pas de votes sur WhatsApp. Pour voter, envoyez {number} au {shortcode}.",
        "vote_no_whatsapp_votes_no_sms": "{show} ne prend pas de votes sur WhatsApp.",
        "vote_no_package_votes": "Vous avez {balance} votes achetés. {offer}",
        "vote_package_offer": "Envoyez {keyword} au {shortcode} pour en acheter {votes}.",
        "vote_stopped": "{show} : vous ne recevrez plus nos SMS. Envoyez START pour annuler.",
        "vote_started": "{show} : bon retour, vous recevrez à nouveau nos SMS. Envoyez STOP pour les arrêter.",
        # Diffusions (le texte est celui de la boutique ; voici les parties du bot)
        "broadcast_unnamed": "à vous",  # {first_name} / {name} d'un membre dont on ne connaît pas le nom : « Bonjour à vous ! »
        "broadcast_stop_line": "Répondez STOP pour ne plus recevoir d'offres.",
        # Le tableau de bord du propriétaire, les ajustements de points, les codes PIN remis à zéro et l'affiche (issue 13, tableau de bord)
        "dashboard_owner_only": "Seul le propriétaire peut ouvrir le tableau de bord.",
        "dashboard_link": (
            "Votre tableau de bord de *{vendor}* : {link}\nLe lien ne sert qu'une fois, dans les {minutes} minutes. "
            "Ne le transférez pas : il ouvre la gestion de votre boutique."
        ),
        "dashboard_other_shops": "Pour une autre de vos boutiques sur ce numéro, envoyez :\n{lines}",
        "dashboard_other_shop": "DASHBOARD {code} pour *{vendor}*",
        "secret_reply_not_kept": "(Un lien unique vers le tableau de bord a été envoyé ici. Envoyez DASHBOARD pour en avoir un nouveau.)",
        "staff_pin_reset": "C'est fait : le code PIN de {name} est effacé. Je lui ai envoyé un message pour en choisir un nouveau.",
        "staff_pin_reset_notice": "Bonjour {name}, *{vendor}* a remis à zéro votre code PIN du personnel. Répondez PIN pour en choisir un nouveau.",
        "poster.headline": "Scannez pour rejoindre les cadeaux de {vendor}",
        "poster.bonus": "{points:@points} offerts à l'inscription\u00a0!",
        "poster.no_bonus": "Cumulez des points à chaque visite\u00a0!",
        "poster.step1": "Scannez le code avec votre téléphone.",
        "poster.step2": "Envoyez le message WhatsApp\u00a0: JOIN\u00a0{code}",
        "poster.step3": "Montrez votre code membre en payant et cumulez des points.",
        "poster.or_send": "Pas d'appareil photo\u00a0? Envoyez JOIN\u00a0{code} au {number} sur WhatsApp.",
    },
}


def render(message: Msg, language: str = DEFAULT_LANGUAGE) -> str:
    language = language if language in CATALOG else DEFAULT_LANGUAGE
    template = _template(message.key, language, message.params.get("count"))
    return template.format(**{name: _localised(value, language) for name, value in message.params.items()})


def _template(key: str, language: str, count: int | None) -> str:
    """The key's text in `language`, one of the catalog's (render made sure of it), for a plural
    the form its count takes."""
    template = CATALOG[language].get(key) or CATALOG[DEFAULT_LANGUAGE][key]
    if isinstance(template, dict):
        template = template["one" if LOCALES[language].is_one(count) else "other"]
    return template


def as_text(value: Any, language: str) -> str:
    """A parameter on its own, as a message in this language shows it (a template's variable):
    money with its currency, a count grouped, a date with its month named."""
    localised = _localised(value, language)
    if isinstance(localised, _Count):
        return format(localised, ",")
    if isinstance(localised, _Day):
        return format(localised, "%-d %b %Y")
    return str(localised)


def _localised(value: Any, language: str) -> Any:
    """A parameter ready for str.format in this language."""
    if isinstance(value, Msg):
        return render(value, language)
    if isinstance(value, (list, tuple)):
        return "\n".join(str(_localised(item, language)) for item in value)
    if isinstance(value, Money):
        return format_money(value.minor, value.currency, language)
    if isinstance(value, int) and not isinstance(value, bool):
        return _Count(value, language)
    if isinstance(value, date):
        return _Day(value, language)
    return value


class _Count:
    """An integer that formats itself in the language: `,` groups its way, `@key` picks a plural."""

    __slots__ = ("value", "language")

    def __init__(self, value: int, language: str):
        self.value, self.language = value, language

    def __format__(self, spec: str) -> str:
        if spec.startswith("@"):  # a plural key, formatted with this count, its only variable
            return _template(spec[1:], self.language, self.value).format(count=self)
        return locale(self.language).digits(format(self.value, spec))


class _Day:
    """A date or time that names its month in the language (%b) and can drop the day's zero (%-d)."""

    __slots__ = ("value", "language")

    def __init__(self, value: date, language: str):
        self.value, self.language = value, language

    def __format__(self, spec: str) -> str:
        month = locale(self.language).months[self.value.month - 1]
        return format(self.value, spec.replace("%b", month).replace("%-d", str(self.value.day)))


def freeze(message: Msg) -> dict:
    """A message as JSON, to keep in the database and render later in the reader's language."""
    params = {name: asdict(value) if isinstance(value, Money) else value for name, value in message.params.items()}
    return {"key": message.key, "params": params}


def thaw(frozen: dict) -> Msg:
    params = {name: Money(**value) if isinstance(value, dict) else value for name, value in frozen["params"].items()}
    return Msg(frozen["key"], params)

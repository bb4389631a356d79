"""Vendor codes: what a code may be, and when a message names a vendor by it.

One rule for the tenant loader (which refuses a code the bot would read as something else) and
the dispatcher (which finds the vendor a message is for). No Flask or SQLAlchemy here.

A code names a vendor only in `JOIN CODE` (the QR text, maybe followed by a referral) or as the
whole message (`mama!`), which both join it (the code alone from staff of the number's vendor
is an answer in their conversation: bot/dispatcher.py); or right after a command (`STOP SALON`,
`LOG MAMA 0803 123 4567 15000`), which addresses a vendor the sender already belongs to. Anywhere
else it is just a word: "is the chop bar open?" joins nothing.
"""
from __future__ import annotations

import re

import flows  # its command words are read when called, so that flows may import this module too
from bot.codes import ALPHABET, CHOSEN_CODE, CHOSEN_CODE_RULE, MEMBER_CODE, REFERRAL_CODE
from bot.locales import LOCALES
from bot.money import looks_like_amount

# A member code, or one written as a referral (R-K7Q4XM) or a reward code (RD-7KX4QF) without its dash.
_ISSUED_CODE = re.compile(rf"(?:RD?)?{MEMBER_CODE.pattern}")

# Short words people write in messages (English, French, Pidgin): a code equal to one of them
# would turn up in ordinary sentences ("help me", "forgot my pin", "abeg wetin dey").
ORDINARY_WORDS = frozenset("""
    A ABEG ABEGI ABI ABOUT AFTERNOON AH AIDE ALL ALRIGHT AM AN AND ANY ARE AS AT AU AVEC BE BEEN
    BEING BIEN BIKO BONJOUR BONSOIR BOSS BUT BY BYE CA CAME CAN CARD CASH CE CHAI CODE COME COMMENT
    COMOT COOL COULD DANS DE DEAR DES DEY DID DO DOES DON DONE DU EHEN EIGHT ELLE EST ET EVENING
    FINE FIT FIVE FOR FOUR FRIEND FROM GET GIVE GM GN GO GOING GONE GOOD GOODBYE GOT GREAT GREETINGS
    HAD HAS HAVE HE HELLO HER HERE HEY HI HIM HIS HIYA HOW I IF IL ILS IN INTO IS IT ITS JARE JE
    JUST KK KNOW LA LE LES LESS LIKE MA MADAM MAIS MAKE MANY MAY ME MERCI MES MIGHT MINE MOI MON
    MONEY MORE MORNING MOST MUCH MUST MY NA NAH NAME NAWA NEED NEXT NICE NIGHT NINE NO NON NONE NOPE
    NOT NOUS NOW NUMBER OF OFF OGA OH OK OKAY OKK ON ONE OPEN OR OU OUI OUR OUT OVER OYA PAID PAR
    PAS PAY PIN PLEASE PLS PLZ POINT POINTS POUR PRICE QUE QUI QUOI SA SABI SALUT SEE SEF SEND SENT
    SEVEN SHALL SHE SHEY SHOP SHOULD SIR SIX SO SOME SON SORRY STORE STP SUR SURE SVP TA TAKE TEN
    THANK THANKS THANKYOU THAT THE THEIR THEM THEN THERE THESE THEY THIS THOSE THREE THX TO TODAY
    TOI TOMORROW TON TOO TU TWO TY UN UNA UNE UP US VOUS WAHALA WAKA WANT WAS WE WELCOME WELL WERE
    WETIN WEY WHAT WHEN WHERE WHICH WHO WHOM WHY WILL WITH WOULD YEAH YEP YES YESTERDAY YOU YOUR YUP
""".split())


def is_command_word(word: str) -> bool:
    """Whether the bot reads `word` (upper case) as a command or an answer (BAL, BACK, YES...):
    neither a vendor code nor a staff name may be one."""
    return word in flows.COMMAND_WORDS


def code_problem(code: str) -> str | None:
    """Why `code` cannot be a vendor code, or None if it can."""
    if not CHOSEN_CODE.fullmatch(code):
        return CHOSEN_CODE_RULE
    if is_command_word(code):
        return f"{code} is a bot command; choose another code"
    if code in ORDINARY_WORDS:
        return f"{code} is a word people write in ordinary messages; choose another code"
    if code.lower() in LOCALES:  # LANG FR chooses French: the word after a command is a code first
        return f"{code} is a language code (LANG {code}); choose another code"
    if looks_like_amount(code):
        return f"{code} reads as an amount; choose another code"
    if _ISSUED_CODE.fullmatch(code):
        return (
            f"{code} reads as a member or reward code (6 characters from {ALPHABET}); "
            "choose a code of another length or with 0, O, 1, I or L"
        )
    return None


def is_vendor_code(word: str) -> bool:
    return code_problem(word) is None


def join_code(words: tuple[str, ...]) -> str | None:
    """The code a message joins: `JOIN MAMA` (whatever follows, such as a referral) or `MAMA`."""
    if len(words) >= 2 and words[0] == "JOIN":
        code = words[1]
    elif len(words) == 1:
        code = words[0]
    else:
        return None
    return code if is_vendor_code(code) else None


def link_join_code(words: tuple[str, ...]) -> str | None:
    """The code of `JOIN CODE` as a vendor's QR poster or a member's referral link writes it:
    nothing after the code but the referral (read as words: R-K7Q4XM without its dash). "Join
    Mama Cafe" is not one."""
    rest = "".join(words[2:])
    if words[:1] != ("JOIN",) or (rest and not REFERRAL_CODE.fullmatch(rest)):
        return None
    return join_code(words)


def addressed_code(words: tuple[str, ...]) -> str | None:
    """The code right after a command (`STOP SALON`, `VERIFY MAMA RD-7KX4QF`): it addresses that
    vendor, if the sender already belongs to it, and never joins it."""
    if len(words) >= 2 and words[0] in flows.COMMANDS and is_vendor_code(words[1]):
        return words[1]
    return None


def without_code(text: str, code: str) -> str:
    """The text with the first word equal to `code` taken out: what a command reads once the
    code has chosen the vendor (`VERIFY MAMA RD-7KX4QF` -> `VERIFY RD-7KX4QF`)."""
    return re.sub(rf"(?<![^\W_]){re.escape(code)}(?![^\W_])\s*", "", text, count=1, flags=re.IGNORECASE)

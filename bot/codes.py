"""Short codes people read aloud and type: no 0/O, no 1/I/L."""
from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
# A member code as `random_code` draws it (K7Q4XM).
MEMBER_CODE = re.compile(rf"[{ALPHABET}]{{6}}")
# A referral as a member's link writes it (R-K7Q4XM), or without its dash; group 1 is the member code.
REFERRAL_CODE = re.compile(rf"\bR-?({MEMBER_CODE.pattern})\b")
# A code chosen by hand, a vendor's (MAMA) or a show's (STARS2), and what it must be.
CHOSEN_CODE = re.compile(r"(?=.*[A-Z])[A-Z0-9]{2,20}")
CHOSEN_CODE_RULE = "must be 2 to 20 capital letters or digits, with at least one letter"


def random_code(length: int = 6) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))

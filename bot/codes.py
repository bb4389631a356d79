"""Short codes people read aloud and type: no 0/O, no 1/I/L."""
from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
# A member code as `random_code` draws it (K7Q4XM).
MEMBER_CODE = re.compile(rf"[{ALPHABET}]{{6}}")


def random_code(length: int = 6) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))

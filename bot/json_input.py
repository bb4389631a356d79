"""JSON from outside: API bodies and the files the commands load. Python's parser lets an
escaped lone surrogate ("\\ud800", half of a pair) through as a character that can be neither
stored (PostgreSQL refuses it, in text and in JSON) nor sent, so such text is refused where
JSON is read, for every field at once."""
from __future__ import annotations

import json


def parse_json(raw: bytes | str):
    """json.loads, refusing (ValueError) a string or key that is not Unicode text, and nesting
    deeper than Python's stack (the parser recurses: a few kilobytes of "[" exhaust it)."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if _holds_lone_surrogate(value):
        raise ValueError("a string holds half of a surrogate pair (\\ud800 to \\udfff alone), which is no character")
    return value


def _holds_lone_surrogate(value) -> bool:
    pending = [value]  # walked without recursion: the parser allows deeper nesting than Python's stack
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False

"""Refusals: a use case said no and changed nothing.

A service raises `Refused` with a reason and the parameters its answer may mention; whoever
called it chooses the words. The reason is also the catalog key of the bot's own answer, so a
flow says it (`say(refused.reason, **refused.params)`) and the API and the dashboard render the
same sentence, in a problem's detail or beside a form. This module imports nothing of the project.
"""
from __future__ import annotations

from typing import Any


class Refused(Exception):
    def __init__(self, reason: str, **params: Any):
        super().__init__(reason)
        self.reason = reason
        self.params = params

"""Flows are plain functions: importing them pulls in no web, database or Twilio library."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_flows_and_the_vendor_code_rule_import_no_flask_sqlalchemy_or_twilio():
    code = (
        "import sys, flows, bot.catalog, bot.engine, bot.vendor_codes\n"
        "loaded = sorted(m for m in ('flask', 'sqlalchemy', 'twilio') if m in sys.modules)\n"
        "print(','.join(loaded))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""

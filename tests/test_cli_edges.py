"""Commands answer a bad argument with a message and a failing exit code, never a traceback."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("args, said", [
    (["tenants", "export", "MAMA", "-o", "/no/such/folder/mama.json"], "/no/such/folder/mama.json: cannot write it"),
    (["qr", "MAMA", "-o", "/no/such/folder/mama.png"], "/no/such/folder/mama.png: cannot write it"),
    (["metrics", "daily", "--date", "9999-12-31"], "must be in the years 2000 to 2999"),
    (["metrics", "daily", "--date", "0001-01-01"], "must be in the years 2000 to 2999"),
    (["outbox", "flush", "--older-than", "999999999999"], "is not in the range"),
    (["outbox", "flush", "--older-than", "-5"], "is not in the range"),
    (["reminders", "send", "--tenant", "NOPE"], "No vendor with code NOPE."),
    (["db", "upgrade", "nosuchrevision"], "nosuchrevision"),
    (["db", "downgrade", "nosuchrevision"], "nosuchrevision"),
])
def test_a_bad_argument_gets_a_message_not_a_traceback(app, mama, args, said):
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code in (1, 2) and isinstance(result.exception, SystemExit), result.output
    assert said in result.output


def test_export_and_qr_still_write_where_they_can(app, mama, tmp_path):
    runner = app.test_cli_runner()
    exported = runner.invoke(args=["tenants", "export", "MAMA", "-o", str(tmp_path / "mama.json")])
    assert exported.exit_code == 0 and (tmp_path / "mama.json").read_text().startswith("{")
    poster = runner.invoke(args=["qr", "MAMA", "-o", str(tmp_path / "mama.png")])
    assert poster.exit_code == 0 and (tmp_path / "mama.png").read_bytes().startswith(b"\x89PNG")

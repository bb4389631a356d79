import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import DEPLOYMENT_SETTINGS, DEV_AUTH_TOKEN, DEV_PIN_PEPPER, Config, normalise_database_url

# What a real Twilio account needs beside it.
TWILIO = {"TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "secret", "PIN_PEPPER": "pepper"}
# A server that takes SMS from Kannel only: no Twilio account, no auth token.
KANNEL_ONLY = {"DATABASE_URL": "postgres://u@db/x", "KANNEL_SHARED_SECRET": "kannel-key", "PUBLIC_BASE_URL": "https://sms.example.com"}


def test_hosting_platform_postgres_urls_use_psycopg2():
    assert normalise_database_url("postgres://u:p@h:5432/db") == "postgresql+psycopg2://u:p@h:5432/db"
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert normalise_database_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_defaults_need_no_services():
    config = Config.from_env({})
    assert config.database_url.startswith("sqlite:///") and config.database_url.endswith("instance/loyalty.sqlite3")
    assert config.redis_url is None
    assert config.console_sender
    assert config.twilio_auth_token == DEV_AUTH_TOKEN
    assert config.pin_pepper == DEV_PIN_PEPPER


def test_everything_comes_from_the_environment():
    config = Config.from_env(
        {
            "DATABASE_URL": "postgres://u@db/x",
            "REDIS_URL": "redis://cache:6379/0",
            "TWILIO_ACCOUNT_SID": "AC123",
            "TWILIO_AUTH_TOKEN": "secret",
            "PIN_PEPPER": "pepper",
            "PUBLIC_BASE_URL": "https://bot.example.com/",
            "TWILIO_API_BASE": "http://127.0.0.1:4010",
        }
    )
    assert config.database_url == "postgresql+psycopg2://u@db/x"
    assert not config.console_sender
    assert config.public_base_url == "https://bot.example.com"
    assert (config.twilio_auth_token, config.twilio_api_base) == ("secret", "http://127.0.0.1:4010")
    assert config.pin_pepper == "pepper"


def test_shared_key_secrets_are_a_comma_separated_list():
    assert Config.from_env({}).twilio_shared_key_secrets == ()
    config = Config.from_env({"TWILIO_SHARED_KEY_SECRETS": " new-secret, old-secret ,"})
    assert config.twilio_shared_key_secrets == ("new-secret", "old-secret")


def test_a_twilio_account_without_its_auth_token_is_refused():
    with pytest.raises(ValueError, match="TWILIO_AUTH_TOKEN"):
        Config.from_env({"TWILIO_ACCOUNT_SID": "AC123"})


def test_a_twilio_account_without_a_pin_pepper_is_refused():
    with pytest.raises(ValueError, match="PIN_PEPPER must be set"):
        Config.from_env({"TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "secret"})


def test_a_deployment_without_a_pin_pepper_is_refused():
    """The dev pepper is public: a server with any deployment setting needs its own."""
    for name in DEPLOYMENT_SETTINGS:
        with pytest.raises(ValueError, match="PIN_PEPPER must be set"):
            Config.from_env({name: "x", "TWILIO_AUTH_TOKEN": "secret"} if name == "TWILIO_ACCOUNT_SID" else {name: "x"})


def test_a_deployment_without_an_auth_token_has_none_not_the_public_one():
    config = Config.from_env({**KANNEL_ONLY, "PIN_PEPPER": "pepper"})
    assert config.twilio_auth_token is None
    assert config.pin_pepper == "pepper"


def test_the_dev_phone_keeps_the_dev_values_whatever_else_is_set():
    config = Config.from_env({**KANNEL_ONLY, "DEV_PHONE": "1"})
    assert (config.twilio_auth_token, config.pin_pepper) == (DEV_AUTH_TOKEN, DEV_PIN_PEPPER)


def test_the_dev_phone_is_served_only_when_asked_for():
    assert not Config.from_env({}).serves_dev_phone
    assert not Config.from_env({"DEV_PHONE": "yes please"}).serves_dev_phone
    assert Config.from_env({"DEV_PHONE": "1"}).serves_dev_phone


def test_the_dev_phone_is_refused_with_a_real_twilio_account():
    with pytest.raises(ValueError, match="DEV_PHONE"):
        Config.from_env({"DEV_PHONE": "1", **TWILIO})
    assert not Config.from_env(TWILIO).serves_dev_phone


def test_a_flask_command_says_a_wrong_setting_in_one_line(tmp_path):
    """Not a traceback before it: the error is all `flask --app wsgi ...` prints, and it exits 1."""
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}  # a deployment, no PIN_PEPPER
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "ledger", "check"],
        cwd=Path(__file__).resolve().parent.parent, env=env, capture_output=True, text=True, timeout=60,
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("Error: PIN_PEPPER must be set when any of DATABASE_URL,")
    assert result.stderr.count("\n") == 1, result.stderr


def test_the_server_entry_point_takes_the_app_out_of_the_collectors_way(tmp_path):
    """wsgi.py freezes what loading the app made, so a full collection does not walk it."""
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", "PIN_PEPPER": "pepper"}
    result = subprocess.run(
        [sys.executable, "-c", "import gc, wsgi; print(gc.get_freeze_count())"],
        cwd=Path(__file__).resolve().parent.parent, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 50_000  # the app's objects, not a handful

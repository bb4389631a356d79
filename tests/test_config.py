import pytest

from bot.config import DEV_AUTH_TOKEN, DEV_PIN_PEPPER, Config, normalise_database_url

# What a real Twilio account needs beside it.
TWILIO = {"TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "secret", "PIN_PEPPER": "pepper"}


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


def test_the_dev_phone_is_served_only_when_asked_for():
    assert not Config.from_env({}).serves_dev_phone
    assert not Config.from_env({"DEV_PHONE": "yes please"}).serves_dev_phone
    assert Config.from_env({"DEV_PHONE": "1"}).serves_dev_phone


def test_the_dev_phone_is_refused_with_a_real_twilio_account():
    with pytest.raises(ValueError, match="DEV_PHONE"):
        Config.from_env({"DEV_PHONE": "1", **TWILIO})
    assert not Config.from_env(TWILIO).serves_dev_phone

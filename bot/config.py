"""Configuration, read from the environment only."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bot.phones import InvalidPhone, from_twilio, to_e164

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"
# Signs and validates webhooks when no real token is configured, so the dev phone works offline.
DEV_AUTH_TOKEN = "dev-auth-token-not-secret"
# Keys the PIN fingerprints when no real pepper is configured: public, so for development only.
DEV_PIN_PEPPER = "dev-pin-pepper-not-secret"
# Settings that point the app at real data or real traffic: with one of them (and no DEV_PHONE=1)
# it is no development server, and the public dev values above never stand in.
DEPLOYMENT_SETTINGS = ("DATABASE_URL", "PUBLIC_BASE_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "KANNEL_SHARED_SECRET")


class ConfigError(ValueError):
    """A setting missing or wrong: the app does not start, and says which."""


def normalise_database_url(url: str) -> str:
    """Map the URL forms hosting platforms hand out onto the psycopg2 driver we ship.

    SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3, which is not installed.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def default_database_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'loyalty.sqlite3'}"


@dataclass(frozen=True)
class Config:
    database_url: str
    redis_url: str | None
    twilio_account_sid: str | None
    twilio_auth_token: str | None  # None: webhooks signed with an auth token are refused
    twilio_api_base: str | None
    public_base_url: str | None
    # Keys the staff PINs' fast fingerprints (bot/services/staff.py); never in the database.
    pin_pepper: str
    dev_phone: bool = False  # DEV_PHONE=1: asked for explicitly, as `make run` does
    # The platform's own WhatsApp number: new vendors are set up by chatting with it, and start on it.
    platform_whatsapp_number: str | None = None
    api_rate_limit: int = 300  # API requests per key per minute (API_RATE_LIMIT)
    # How long a worker's claim on an outbound message lasts before `outbox reconcile` may settle it.
    outbox_lease_seconds: int = 120
    kannel_shared_secret: str | None = None  # the key Kannel's sms-service sends; unset: Kannel is refused
    # The secrets of the Twilio SharedKeys that sign webhooks a Webhook Rule matches (instead of
    # the auth token); more than one while a key is being rotated.
    twilio_shared_key_secrets: tuple[str, ...] = ()

    @property
    def console_sender(self) -> bool:
        """Without a Twilio account, outbound messages are stored and printed, never sent."""
        return not self.twilio_account_sid

    @property
    def serves_dev_phone(self) -> bool:
        """The dev phone acts as any phone and shows their notifications: only when asked for,
        and never with a real Twilio account."""
        return self.dev_phone and self.console_sender

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Config":
        env = os.environ if env is None else env
        if env.get("TWILIO_ACCOUNT_SID") and not env.get("TWILIO_AUTH_TOKEN"):
            # The dev token is public: with a real account it would let anyone forge webhooks.
            raise ConfigError("TWILIO_AUTH_TOKEN must be set when TWILIO_ACCOUNT_SID is")
        dev_phone = env.get("DEV_PHONE") == "1"
        # Where the public dev token and pepper may stand in: asked for (as `make run` does), or
        # where nothing a deployment sets is set.
        development = dev_phone or not any(env.get(name) for name in DEPLOYMENT_SETTINGS)
        if not development and not env.get("PIN_PEPPER"):
            # The dev pepper is public too: with it, a copy of the database would give the PINs away.
            raise ConfigError(f"PIN_PEPPER must be set when any of {', '.join(DEPLOYMENT_SETTINGS)} is (or DEV_PHONE=1, in development)")
        if dev_phone and env.get("TWILIO_ACCOUNT_SID"):
            # Said loudly rather than ignored: a server with a real account never serves it.
            raise ConfigError("DEV_PHONE=1 cannot be used with a real Twilio account (TWILIO_ACCOUNT_SID)")
        return cls(
            database_url=normalise_database_url(env.get("DATABASE_URL") or default_database_url()),
            redis_url=env.get("REDIS_URL") or None,
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or None,
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or (DEV_AUTH_TOKEN if development else None),
            twilio_api_base=env.get("TWILIO_API_BASE") or None,
            public_base_url=(env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
            pin_pepper=env.get("PIN_PEPPER") or DEV_PIN_PEPPER,
            dev_phone=dev_phone,
            platform_whatsapp_number=_phone(env.get("PLATFORM_WHATSAPP_NUMBER"), "PLATFORM_WHATSAPP_NUMBER"),
            api_rate_limit=_positive_int(env, "API_RATE_LIMIT", 300),
            outbox_lease_seconds=_positive_int(env, "OUTBOX_LEASE_SECONDS", 120),
            kannel_shared_secret=env.get("KANNEL_SHARED_SECRET") or None,
            twilio_shared_key_secrets=tuple(
                secret.strip() for secret in (env.get("TWILIO_SHARED_KEY_SECRETS") or "").split(",") if secret.strip()
            ),
        )


def _phone(value: str | None, name: str) -> str | None:
    if not value:
        return None
    try:
        return to_e164(from_twilio(value)[0])
    except InvalidPhone:
        raise ConfigError(f"{name} must be a phone number in international format, like +14155238886") from None


def _positive_int(env, name: str, default: int) -> int:
    raw = env.get(name) or str(default)
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name} must be a whole number above 0, not {raw!r}")
    return int(raw)

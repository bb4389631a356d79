"""Configuration, read from the environment only."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"
# Signs and validates webhooks when no real token is configured, so the dev phone works offline.
DEV_AUTH_TOKEN = "dev-auth-token-not-secret"


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
    twilio_auth_token: str
    twilio_api_base: str | None
    public_base_url: str | None
    kannel_shared_secret: str | None = None  # the key Kannel's sms-service sends; unset: Kannel is refused

    @property
    def console_sender(self) -> bool:
        """Without a Twilio account, outbound messages are stored and printed, never sent."""
        return not self.twilio_account_sid

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Config":
        env = os.environ if env is None else env
        if env.get("TWILIO_ACCOUNT_SID") and not env.get("TWILIO_AUTH_TOKEN"):
            # The dev token is public: with a real account it would let anyone forge webhooks.
            raise ValueError("TWILIO_AUTH_TOKEN must be set when TWILIO_ACCOUNT_SID is")
        return cls(
            database_url=normalise_database_url(env.get("DATABASE_URL") or default_database_url()),
            redis_url=env.get("REDIS_URL") or None,
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or None,
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or DEV_AUTH_TOKEN,
            twilio_api_base=env.get("TWILIO_API_BASE") or None,
            public_base_url=(env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
            kannel_shared_secret=env.get("KANNEL_SHARED_SECRET") or None,
        )

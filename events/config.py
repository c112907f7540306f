"""Settings: the only place the environment is read.

Every setting is an environment variable with the prefix ``INFOBIP_EVENTS_`` (or a line in a
``.env`` file). They are read once, by :func:`load_settings`, and passed down from there.
"""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path
from typing import Annotated, Literal

import phonenumbers
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./data/infobip-events.db"

# Infobip security profiles name the algorithm HMAC_SHA_256 etc.; people write sha256.
_HMAC_ALIASES = {
    "md5": "md5",
    "sha1": "sha1",
    "sha224": "sha224",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
}

CsvList = Annotated[list[str], NoDecode]


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class SettingsError(Exception):
    """Settings that cannot work; the message says which and why."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="INFOBIP_EVENTS_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    database_url: str = DEFAULT_DATABASE_URL
    # FULL makes every acknowledged webhook survive a power cut, not only a crash; the group
    # commit pays one fsync per batch, so the cost is shared by all concurrent requests.
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = "FULL"
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    db_pool_size: int = Field(default=10, ge=1)
    db_connect_timeout_seconds: float = Field(default=3.0, gt=0)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # Worker processes under `serve` (SQLite has one writer: more than 1 helps on PostgreSQL).
    workers: int = Field(default=1, ge=1, le=32)

    # Read API
    api_token: SecretStr | None = None

    # Webhook authentication (any combination; every configured mode must pass)
    webhook_username: str | None = None
    webhook_password: SecretStr | None = None
    webhook_token: SecretStr | None = None
    webhook_token_header: str = "X-Webhook-Token"
    webhook_token_query: str = "token"
    webhook_hmac_secret: SecretStr | None = None
    webhook_hmac_header: str | None = None
    webhook_hmac_algorithm: str = "sha256"
    webhook_hmac_encoding: Literal["hex", "base64", "auto"] = "auto"
    webhook_hmac_timestamp_header: str | None = None
    webhook_hmac_max_age_seconds: int = Field(default=300, ge=1)
    webhook_allowed_ips: CsvList = Field(default_factory=list)
    trusted_proxies: CsvList = Field(default_factory=list)

    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    # Slow clients: a request's headers must be complete this long after its first byte, and
    # its body must arrive at least this fast (bytes a second, after 5 s), or the connection is
    # closed. Infobip sends a few KB at once.
    client_header_timeout_seconds: float = Field(default=10.0, gt=0)
    client_min_body_rate: float = Field(default=1024.0, ge=0)
    # Infobip profiles may match the answer against responseBodyRegex; keep the body configurable.
    ack_body: str | None = None
    ack_content_type: str = "application/json"
    # Request headers kept with the raw row. Authentication headers are never kept.
    keep_headers: CsvList = Field(
        default_factory=lambda: [
            "content-type",
            "user-agent",
            "x-forwarded-for",
            "x-request-id",
            "x-infobip-signature",
        ]
    )

    # Ingest: how long a request waits for its commit before answering 503.
    ingest_commit_timeout_seconds: float = Field(default=10.0, gt=0)
    ingest_max_batch: int = Field(default=512, ge=1)

    # Processor
    process_batch_size: int = Field(default=200, ge=1)
    process_idle_seconds: float = Field(default=0.5, gt=0)
    process_max_attempts: int = Field(default=5, ge=1)

    # Membrane (see events/membrane/): dry-run unless configured.
    membrane_transport: Literal["dry-run", "cli", "http"] = "dry-run"
    membrane_cli: str | None = None
    membrane_api_url: str = "https://api.getmembrane.com"
    membrane_token: SecretStr | None = None
    membrane_workspace_key: str | None = None
    membrane_workspace_secret: SecretStr | None = None
    membrane_tenant_key: str | None = None
    membrane_connection_id: str | None = None
    membrane_timeout_seconds: float = Field(default=30.0, gt=0)
    # A JSON file {action key: input template} overriding the catalogue's templates.
    membrane_templates: Path | None = None
    # Channels whose sends go through the proxied Infobip API instead of the action ("sms").
    membrane_send_via_proxy: CsvList = Field(default_factory=list)
    # Where Infobip should post the delivery reports of what the service sends.
    notify_url: str | None = None

    # Dispatcher (outbox -> Membrane)
    dispatch_concurrency: int = Field(default=64, ge=1, le=512)
    dispatch_max_attempts: int = Field(default=6, ge=1)
    dispatch_lease_seconds: float = Field(default=120.0, gt=0)
    dispatch_backoff_seconds: float = Field(default=2.0, gt=0)
    dispatch_backoff_cap_seconds: float = Field(default=600.0, gt=0)
    dispatch_idle_seconds: float = Field(default=0.5, gt=0)

    # Reconciliation: how long after sending a missing report is looked for, per channel
    # ("sms=15m,email=1h"; the rest keep their defaults), how often, and the inbound backstop
    # (off: the one-time inbound pulls compete with inbound webhooks).
    reconcile_after: CsvList = Field(default_factory=list)
    reconcile_interval_seconds: float = Field(default=300.0, gt=0)
    reconcile_window_hours: float = Field(default=48.0, gt=0)
    reconcile_inbound_backstop: bool = False

    # Phone numbers: how a national writing ("079 100 00 01") is read, as an ISO 3166 region
    # code ("CH"). Without one, national writings are refused: numbers need their country code.
    default_region: str | None = None

    # Opt-out compliance: STOP/START/HELP read on these channels' inbound messages; extra words
    # add to the built-in lists. OPTOUT_SCOPE: `contact` (an opt-out on any phone channel holds
    # on all of them) or `channel`. OPTOUT_UNCERTAIN: `review` (a probable opt-out suppresses
    # until a person decides) or `ignore` (audited only). SUPPRESS_HARD_BOUNCES: a permanent
    # email bounce suppresses the address like an unsubscribe.
    optout_channels: CsvList = Field(
        default_factory=lambda: ["sms", "mms", "whatsapp", "viber", "rcs"]
    )
    optout_scope: Literal["contact", "channel"] = "contact"
    optout_uncertain: Literal["review", "ignore"] = "review"
    suppress_hard_bounces: bool = False
    optout_words: CsvList = Field(default_factory=list)
    optin_words: CsvList = Field(default_factory=list)
    help_words: CsvList = Field(default_factory=list)
    optout_confirmation: str = (
        "You are unsubscribed and will get no more messages from us. Reply START to resubscribe."
    )
    optin_confirmation: str = "You are subscribed again. Reply STOP to unsubscribe."
    help_text: str = "Reply STOP to unsubscribe, START to subscribe again."

    # Rules (a TOML file, see examples/rules.toml): validated at start, reloaded on SIGHUP.
    # OWN_NUMBERS adds to the file's own_numbers (never auto-replied to). Forwards to HTTP
    # URLs are always signed with FORWARD_HMAC_SECRET.
    rules_file: str | None = None
    own_numbers: CsvList = Field(default_factory=list)
    forward_hmac_secret: SecretStr | None = None

    # Number Masking: what a callback with no live session hears (a recording URL); with none
    # set, the answer carries no instruction and Infobip does not connect the call.
    masking_fallback_file_url: str | None = None

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"

    @field_validator(
        "webhook_allowed_ips",
        "trusted_proxies",
        "keep_headers",
        "membrane_send_via_proxy",
        "optout_channels",
        "optout_words",
        "optin_words",
        "help_words",
        "reconcile_after",
        "own_numbers",
        mode="before",
    )
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("webhook_allowed_ips", "trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an IP address or CIDR network") from exc
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        code = value.strip().upper()
        if code not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a region code: use ISO 3166 alpha-2, e.g. CH, US")
        return code

    @field_validator("keep_headers")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [h.lower() for h in value]

    @field_validator("webhook_hmac_algorithm")
    @classmethod
    def _algorithm(cls, value: str) -> str:
        key = value.lower().replace("hmac_", "").replace("hmac-", "").replace("_", "")
        key = key.replace("-", "")
        if key not in _HMAC_ALIASES:
            raise ValueError(
                f"{value!r} is not a supported HMAC algorithm; use one of "
                + ", ".join(sorted(_HMAC_ALIASES))
            )
        hashlib.new(key)
        return _HMAC_ALIASES[key]

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if value.startswith("postgres://"):
            value = "postgresql://" + value[len("postgres://") :]
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value[len("postgresql://") :]
        if not (value.startswith("sqlite") or value.startswith("postgresql+psycopg")):
            raise ValueError("use a sqlite:/// path or a postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _pairs(self) -> Settings:
        if (self.webhook_username is None) != (self.webhook_password is None):
            raise ValueError(
                "set both INFOBIP_EVENTS_WEBHOOK_USERNAME and INFOBIP_EVENTS_WEBHOOK_PASSWORD, "
                "or neither"
            )
        if self.membrane_transport == "cli" and not self.membrane_cli:
            raise ValueError(
                "INFOBIP_EVENTS_MEMBRANE_TRANSPORT=cli needs INFOBIP_EVENTS_MEMBRANE_CLI, the "
                "absolute path of the membrane executable"
            )
        if self.membrane_transport != "dry-run" and not self.membrane_connection_id:
            raise ValueError(
                "set INFOBIP_EVENTS_MEMBRANE_CONNECTION_ID to the Infobip connection "
                "(membrane connection list --json)"
            )
        if self.membrane_transport == "http" and not (
            self.membrane_token or (self.membrane_workspace_key and self.membrane_workspace_secret)
        ):
            raise ValueError(
                "INFOBIP_EVENTS_MEMBRANE_TRANSPORT=http needs INFOBIP_EVENTS_MEMBRANE_TOKEN, or "
                "INFOBIP_EVENTS_MEMBRANE_WORKSPACE_KEY and _WORKSPACE_SECRET"
            )
        if self.webhook_hmac_secret is not None and not self.webhook_hmac_header:
            raise ValueError(
                "INFOBIP_EVENTS_WEBHOOK_HMAC_SECRET is set but INFOBIP_EVENTS_WEBHOOK_HMAC_HEADER "
                "is not: Infobip does not document the signature header, so name the one your "
                "security profile sends"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        path = self.database_url.split(":///", 1)[1] if ":///" in self.database_url else ""
        if not path or path == ":memory:":
            return None
        return Path(path)

    @property
    def webhook_auth_configured(self) -> bool:
        return bool(
            self.webhook_username
            or self.webhook_token
            or self.webhook_hmac_secret
            or self.webhook_allowed_ips
        )


def load_settings(**overrides: object) -> Settings:
    """Read the environment (and .env) once; raise SettingsError naming what is wrong."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            name = f"INFOBIP_EVENTS_{loc.upper()}" if loc else "settings"
            lines.append(f"{name}: {err['msg']}")
        raise SettingsError("bad settings:\n  " + "\n  ".join(lines)) from None

"""Settings: the only place the environment is read.

Every setting is an environment variable with the prefix ``INFOBIP_EVENTS_`` (or a line in a
``.env`` file). They are read once, by :func:`load_settings`, and passed down from there.
"""

from __future__ import annotations

import hashlib
import ipaddress
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

import phonenumbers
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from events.times import parse_age_seconds

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

    # Each setting says what it means in its description: `infobip-events` reads nothing else,
    # and .env.example is generated from these (env_example() below; tests/test_settings.py).

    # Database
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="The database: a sqlite:/// path (the embedded default, created and "
        "migrated by itself) or a postgresql://user:password@host:port/db URL (several "
        "receivers and workers can share it).",
    )
    # FULL makes every acknowledged webhook survive a power cut, not only a crash; the group
    # commit pays one fsync per batch, so the cost is shared by all concurrent requests.
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = Field(
        default="FULL",
        description="SQLite durability: FULL survives a power cut, NORMAL only a crash.",
    )
    sqlite_busy_timeout_ms: int = Field(
        default=5000,
        ge=0,
        description="How long a SQLite write waits for the lock before the webhook gets 503.",
    )
    db_pool_size: int = Field(
        default=10,
        ge=1,
        description="PostgreSQL connections per process (and as many more on overflow).",
    )
    db_connect_timeout_seconds: float = Field(
        default=3.0, gt=0, description="How long a PostgreSQL connection attempt may take."
    )
    migrate_on_start: bool = Field(
        default=False,
        description="PostgreSQL: serve, receiver and worker run the migrations when they start "
        "(under an advisory lock, so two replicas never migrate at once) instead of refusing "
        "an old schema. Off: run `infobip-events db upgrade` once per release. SQLite always "
        "migrates itself.",
    )

    # Listening and processes
    host: str = Field(
        default="127.0.0.1",
        description="The address serve and receiver listen on (0.0.0.0 for every interface; "
        "the Docker image sets it).",
    )
    port: int = Field(
        default=8080, ge=0, le=65535, description="The port serve and receiver listen on."
    )
    # SQLite has one writer: more than 1 helps on PostgreSQL.
    workers: int = Field(
        default=1,
        ge=1,
        le=32,
        description="Worker processes under serve (more than 1 helps on PostgreSQL only).",
    )
    heartbeat_file: Path | None = Field(
        default=None,
        description="A file each worker touches after every round of its loop with the "
        "database; `infobip-events health` reads its age (the Docker image sets "
        "/tmp/infobip-events.heartbeat). None: no heartbeat.",
    )
    heartbeat_max_age_seconds: float = Field(
        default=60.0,
        gt=0,
        description="`infobip-events health` calls a worker whose heartbeat is older than this "
        "unhealthy.",
    )

    # Read API
    metrics: bool = Field(
        default=True,
        description="Record Prometheus metrics and serve them at GET /metrics (the API's "
        "bearer token, or loopback only without one). False: nothing is recorded (404).",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="A worker on a host of its own serves its own GET /metrics on this port "
        "(on HOST). Not under serve, nor with PROMETHEUS_MULTIPROC_DIR set: there the "
        "receiver's /metrics sums every process.",
    )
    api_token: SecretStr | None = Field(
        default=None,
        description="The read API's bearer token. None: the API answers loopback clients only "
        "(from outside a container, Docker's NAT makes every client non-loopback: set it).",
    )

    # Webhook authentication (any combination; every configured mode must pass)
    webhook_username: str | None = Field(
        default=None,
        description="HTTP Basic user name of webhooks (with WEBHOOK_PASSWORD; Infobip: a "
        "subscription security setting of type BASIC).",
    )
    webhook_password: SecretStr | None = Field(
        default=None, description="HTTP Basic password of webhooks (with WEBHOOK_USERNAME)."
    )
    webhook_token: SecretStr | None = Field(
        default=None,
        description="A shared secret webhooks carry in the header WEBHOOK_TOKEN_HEADER (a "
        "notification profile's headers) or the query parameter WEBHOOK_TOKEN_QUERY (a "
        "per-message notifyUrl such as https://host/webhooks/sms?token=...).",
    )
    webhook_token_header: str = Field(
        default="X-Webhook-Token", description="The header that carries WEBHOOK_TOKEN."
    )
    webhook_token_query: str = Field(
        default="token", description="The query parameter that carries WEBHOOK_TOKEN."
    )
    webhook_hmac_secret: SecretStr | None = Field(
        default=None,
        description="HMAC secret over the raw body (Infobip: a subscription security setting "
        "of type HMAC); needs WEBHOOK_HMAC_HEADER.",
    )
    webhook_hmac_header: str | None = Field(
        default=None,
        description="The header carrying the HMAC signature (Infobip does not document it: "
        "capture one signed request).",
    )
    webhook_hmac_algorithm: str = Field(
        default="sha256",
        description="md5, sha1, sha224, sha256, sha384 or sha512 (Infobip's HMAC_SHA_256 "
        "style too).",
    )
    webhook_hmac_encoding: Literal["hex", "base64", "auto"] = Field(
        default="auto", description="How the signature is written: hex, base64 or auto."
    )
    webhook_hmac_timestamp_header: str | None = Field(
        default=None,
        description="A header with the signing time: then the signed bytes are timestamp + "
        "'.' + body and older signatures are refused.",
    )
    webhook_hmac_max_age_seconds: int = Field(
        default=300,
        ge=1,
        description="With WEBHOOK_HMAC_TIMESTAMP_HEADER: the oldest signature accepted.",
    )
    webhook_allowed_ips: CsvList = Field(
        default_factory=list,
        description="Comma-separated addresses or CIDR networks webhooks may come from "
        "(Infobip's published Main IP list).",
    )
    trusted_proxies: CsvList = Field(
        default_factory=list,
        description="Comma-separated addresses of your load balancers: X-Forwarded-For counts "
        "only from them.",
    )

    # Ingest
    max_body_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1024, description="Larger webhook bodies get 413."
    )
    # Slow clients: Infobip sends a few KB at once.
    client_header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="A request's headers must be complete this long after its first byte, or "
        "the connection is closed.",
    )
    client_min_body_rate: float = Field(
        default=1024.0,
        ge=0,
        description="A request's body must arrive at least this fast (bytes a second, after "
        "5 s), or the connection is closed.",
    )
    # Infobip profiles may match the answer against responseBodyRegex; keep the body configurable.
    ack_body: str | None = Field(
        default=None,
        description='The answer body to a stored webhook ({id} for its id); None: {"id": '
        '"<id>"}. For notification profiles with a responseBodyRegex.',
    )
    ack_content_type: str = Field(
        default="application/json", description="The content type of ACK_BODY."
    )
    # Request headers kept with the raw row. Authentication headers are never kept.
    keep_headers: CsvList = Field(
        default_factory=lambda: [
            "content-type",
            "user-agent",
            "x-forwarded-for",
            "x-request-id",
            "x-infobip-signature",
        ],
        description="Comma-separated request headers kept with the raw webhook "
        "(authentication headers never are).",
    )
    ingest_commit_timeout_seconds: float = Field(
        default=10.0, gt=0, description="A webhook waits this long for its commit, then gets 503."
    )
    ingest_max_batch: int = Field(
        default=512, ge=1, description="Webhooks per group commit, at most."
    )

    # Processor
    process_batch_size: int = Field(
        default=200, ge=1, description="Raw webhooks a worker claims per batch."
    )
    process_idle_seconds: float = Field(
        default=0.5, gt=0, description="How long an idle worker waits before looking again."
    )
    process_max_attempts: int = Field(
        default=5, ge=1, description="Attempts at a raw webhook before it is kept as failed."
    )
    process_backlog_seconds: float = Field(
        default=30.0,
        gt=0,
        description="While the oldest pending webhook is older than this, the processor logs "
        "`backlog` with its age (every 10 s).",
    )

    # Membrane (see events/membrane/): dry-run unless configured.
    membrane_transport: Literal["dry-run", "cli", "http"] = Field(
        default="dry-run",
        description="How actions reach Infobip: dry-run (records, sends nothing), cli (the "
        "membrane executable) or http (Membrane's API).",
    )
    membrane_cli: str | None = Field(
        default=None, description="MEMBRANE_TRANSPORT=cli: the membrane executable's absolute path."
    )
    membrane_api_url: str = Field(
        default="https://api.getmembrane.com",
        description="MEMBRANE_TRANSPORT=http: Membrane's API.",
    )
    membrane_token: SecretStr | None = Field(
        default=None,
        description="MEMBRANE_TRANSPORT=http: an access token (or WORKSPACE_KEY and "
        "WORKSPACE_SECRET).",
    )
    membrane_workspace_key: str | None = Field(
        default=None, description="Membrane workspace key (signs tokens with WORKSPACE_SECRET)."
    )
    membrane_workspace_secret: SecretStr | None = Field(
        default=None, description="Membrane workspace secret."
    )
    membrane_tenant_key: str | None = Field(
        default=None, description="Membrane tenant (customer) key the tokens are signed for."
    )
    membrane_connection_id: str | None = Field(
        default=None,
        description="The Infobip connection in Membrane (membrane connection list --json); "
        "required unless dry-run.",
    )
    membrane_timeout_seconds: float = Field(
        default=30.0, gt=0, description="How long one Membrane call may take."
    )
    membrane_templates: Path | None = Field(
        default=None,
        description="A JSON file {action key: input template} overriding the catalogue's "
        "templates.",
    )
    membrane_send_via_proxy: CsvList = Field(
        default_factory=list,
        description="Comma-separated channels whose sends go through the proxied Infobip API "
        "instead of the action (sms).",
    )
    notify_url: str | None = Field(
        default=None,
        description="Where Infobip should post the delivery reports of what the service sends "
        "(this service's public /webhooks/... URL).",
    )

    # Dispatcher (outbox -> Membrane)
    dispatch_concurrency: int = Field(
        default=64, ge=1, le=512, description="Membrane calls in flight per worker."
    )
    dispatch_max_attempts: int = Field(
        default=6, ge=1, description="Attempts at an action before it is dead."
    )
    dispatch_lease_seconds: float = Field(
        default=120.0,
        gt=0,
        description="How long a worker holds an action it runs; after that another may settle it.",
    )
    dispatch_backoff_seconds: float = Field(
        default=2.0, gt=0, description="The first retry's delay (then doubling, with jitter)."
    )
    dispatch_backoff_cap_seconds: float = Field(
        default=600.0, gt=0, description="The longest delay between two retries."
    )
    dispatch_idle_seconds: float = Field(
        default=0.5, gt=0, description="How long an idle dispatcher waits before looking again."
    )

    # Reconciliation
    reconcile_after: CsvList = Field(
        default_factory=list,
        description="How long after sending a missing report is looked for, per channel "
        "(sms=15m,email=1h; the others keep their defaults: SMS/MMS/Viber/Push 15m, voice "
        "30m, email 1h).",
    )
    reconcile_interval_seconds: float = Field(
        default=300.0, gt=0, description="How often the reconciler runs."
    )
    reconcile_window_hours: float = Field(
        default=48.0,
        gt=0,
        description="How far back reports are looked for (Infobip keeps logs about 48 hours).",
    )
    # Off: the one-time inbound pulls compete with inbound webhooks.
    reconcile_inbound_backstop: bool = Field(
        default=False,
        description="Also pull Infobip's one-time inbound reports (competes with inbound "
        "webhooks).",
    )

    # Phone numbers: without a region, national writings are refused.
    default_region: str | None = Field(
        default=None,
        description="ISO 3166 region (CH) for national writings of numbers (079 100 00 01); "
        "None: numbers need their country code.",
    )

    # Opt-out compliance
    optout_channels: CsvList = Field(
        default_factory=lambda: ["sms", "mms", "whatsapp", "viber", "rcs"],
        description="Comma-separated channels whose inbound messages are read for STOP/START/HELP.",
    )
    optout_scope: Literal["contact", "channel"] = Field(
        default="contact",
        description="contact: an opt-out on any phone channel holds on all of them; channel: "
        "only where it was made.",
    )
    optout_uncertain: Literal["review", "ignore"] = Field(
        default="review",
        description="review: a probable opt-out suppresses until a person decides; ignore: "
        "audited only.",
    )
    suppress_hard_bounces: bool = Field(
        default=False,
        description="A permanent email bounce suppresses the address like an unsubscribe.",
    )
    optout_words: CsvList = Field(
        default_factory=list,
        description="Comma-separated opt-out words added to the built-in ones.",
    )
    optin_words: CsvList = Field(
        default_factory=list, description="Comma-separated opt-in words added to the built-in ones."
    )
    help_words: CsvList = Field(
        default_factory=list, description="Comma-separated help words added to the built-in ones."
    )
    optout_confirmation: str = Field(
        default="You are unsubscribed and will get no more messages from us. Reply START to "
        "resubscribe.",
        description="The one confirmation sent to someone who opted out.",
    )
    optin_confirmation: str = Field(
        default="You are subscribed again. Reply STOP to unsubscribe.",
        description="The answer to an opt-in.",
    )
    help_text: str = Field(
        default="Reply STOP to unsubscribe, START to subscribe again.",
        description="The answer to HELP.",
    )

    # Rules
    rules_file: str | None = Field(
        default=None,
        description="The rules, a TOML file (examples/rules.toml): validated at start, "
        "reloaded on SIGHUP.",
    )
    own_numbers: CsvList = Field(
        default_factory=list,
        description="Comma-separated numbers of ours, added to the rules file's own_numbers "
        "(never auto-replied to).",
    )
    forward_hmac_secret: SecretStr | None = Field(
        default=None,
        description="Signs the rules' forward actions (required when a rule forwards).",
    )

    # ---- account: balance, numbers, applications and entities (issue 13) ----------------------
    balance_interval: str = Field(
        default="15m",
        description="How often the worker reads the account balance (90s, 15m, 1h; off: "
        "never). Never in dry-run, where there is no account to read.",
    )
    balance_alert_below: Decimal | None = Field(
        default=None,
        description="A balance below this (in the account's currency) makes one balance_low "
        "event, and another only after it has been at or above it again; None: no alert.",
    )
    numbers_interval: str = Field(
        default="1h",
        description="How often the worker syncs own numbers, CPaaS X applications and entities "
        "(90s, 15m, 1h; off: only by the CLI).",
    )
    # ---- end account -------------------------------------------------------------------------

    # Number Masking: with no fallback, the answer carries no instruction and Infobip does not
    # connect the call.
    masking_fallback_file_url: str | None = Field(
        default=None,
        description="What a masking callback with no live session plays (a recording URL); "
        "None: no instruction, the call is not connected.",
    )

    # ---- Number Lookup on demand, 2FA PINs, email validation (issue 13, items 5-7) ----------
    public_url: str | None = Field(
        default=None,
        description="This service's public base URL (https://events.example.com): on-demand "
        "Number Lookups then ask for the asynchronous result at {PUBLIC_URL}/webhooks/"
        "number-lookup; None: the synchronous query.",
    )
    lookup_ttl: str = Field(
        default="24h",
        description="How long a Number Lookup result is reused before Infobip is asked again "
        "(90s, 15m, 24h, 7d); SKIP_UNREACHABLE trusts a result this long.",
    )
    skip_unreachable: bool = Field(
        default=False,
        description="Record the rules' automated sends to a number whose last lookup (within "
        "LOOKUP_TTL) says unreachable as skipped, with the reason.",
    )
    validate_email: bool = Field(
        default=False,
        description="Validate the address of an automated email with Infobip before sending; "
        "an invalid one is skipped with Infobip's reason.",
    )
    tfa_application_id: str | None = Field(
        default=None,
        description="The Infobip 2FA application of POST /v1/verify (`infobip-events tfa "
        "setup` prints it).",
    )
    tfa_message_id: str | None = Field(
        default=None,
        description="The 2FA message template of POST /v1/verify (`infobip-events tfa setup` "
        "prints it).",
    )
    tfa_pin_ttl: str = Field(
        default="15m",
        description="How long a PIN can be checked: keep it equal to the 2FA application's "
        "pinTimeToLive (Infobip's default 15m).",
    )
    tfa_max_per_hour: int = Field(
        default=5, ge=1, description="PIN sends (first and resends) per number and hour."
    )
    on_demand_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Membrane calls the API makes at once for lookups and PIN checks; more "
        "wait for none: they are answered 503.",
    )
    # Retention and erasure (events/retention.py, events/forget.py)
    retention_raw_days: int = Field(
        default=30,
        ge=0,
        description="Raw webhooks processed (or ignored) longer ago than this are deleted by "
        "the workers and `db prune`; their events stay. Pending and failed ones are never "
        "deleted. 0: keep them forever.",
    )
    retention_events_days: int = Field(
        default=400,
        ge=0,
        description="Events, messages, calls, lookups, rule decisions, finished outbox actions, "
        "masking sessions and reconciliation runs older than this are deleted. The suppression "
        "list and its audit are kept. 0: keep them forever.",
    )
    erasure_key: SecretStr | None = Field(
        default=None,
        description="The secret an erased contact's suppression is kept under (HMAC-SHA256; "
        "`contacts forget` needs it, 16 characters or more). Keep it as long as the database: "
        "under another key the erased contacts no longer match, so the service refuses to start.",
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL (any case)."
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: JSON lines unless on a terminal; json; console."
    )

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

    @field_validator("balance_interval", "numbers_interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        text = value.strip().lower()
        if text in ("off", "0", ""):
            return "off"
        parse_age_seconds(text)  # ValueError says what to write
        return text

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

    @field_validator("erasure_key")
    @classmethod
    def _erasure_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError(
                "too short: use 16 characters or more (e.g. the output of `openssl rand -hex 32`)"
            )
        return value

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

    # ---- lookups and 2FA (issue 13) ----
    @field_validator("lookup_ttl", "tfa_pin_ttl")
    @classmethod
    def _age(cls, value: str) -> str:
        parse_age_seconds(value.strip())  # ValueError says how to write one
        return value.strip()

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("write the service's public base URL, https://events.example.com")
        return value.strip().rstrip("/")

    @property
    def lookup_ttl_seconds(self) -> float:
        return parse_age_seconds(self.lookup_ttl)

    @property
    def tfa_pin_ttl_seconds(self) -> float:
        return parse_age_seconds(self.tfa_pin_ttl)

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

    def interval_seconds(self, name: str) -> float | None:
        """A sync interval in seconds (balance_interval, numbers_interval); None when off."""
        value = str(getattr(self, name))
        return None if value == "off" else parse_age_seconds(value)

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


# What compose.yaml reads from .env for itself (not settings of the service).
_COMPOSE_VARIABLES = (
    (
        "POSTGRES_PASSWORD",
        "",
        "The compose stack's PostgreSQL password (required by compose.yaml).",
    ),
    (
        "EVENTS_IMAGE",
        "infobip-events:latest",
        "The image compose.yaml runs (built from this directory by `docker compose build`).",
    ),
    ("EVENTS_PUBLISH_PORT", "8080", "The host port compose.yaml publishes the receiver on."),
    ("POSTGRES_IMAGE", "postgres:17", "The PostgreSQL image of the compose stack."),
)

_ENV_EXAMPLE_HEADER = """\
# Infobip Events: every setting, its meaning and its default.
# Generated from events/config.py by `python -m events.config > .env.example`: do not edit.
# Copy it to .env and set what you need (uncomment the line). The service reads .env from its
# working directory; compose.yaml reads it for the first block and hands the rest to every
# container (env_file).
"""


def _env_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):
        return format(value, "g")
    return str(value)


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, width=98, initial_indent="# ", subsequent_indent="# ")


def env_example() -> str:
    """The .env.example file: the compose variables, then every setting with its meaning and
    its default, commented out (a test holds the file equal to this)."""
    lines = [_ENV_EXAMPLE_HEADER, "# --- compose.yaml " + "-" * 80]
    for name, default, meaning in _COMPOSE_VARIABLES:
        lines += _comment(meaning)
        lines.append(f"{name}={default}" if not default else f"#{name}={default}")
    lines += ["", "# --- the service " + "-" * 81]
    prefix = Settings.model_config.get("env_prefix", "")
    for name, field in Settings.model_fields.items():
        default = _env_value(field.get_default(call_default_factory=True))
        lines += ["", *_comment(f"{name.upper()}: {field.description}")]
        lines.append(f"#{prefix}{name.upper()}={default}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(env_example(), end="")

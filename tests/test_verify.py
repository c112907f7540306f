"""Webhook authentication: one test per mode and per failure; a failure stores nothing."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from events.config import Settings
from events.verify import hmac_signature
from storage.models import raw_webhooks
from tests.conftest import make_client

BODY = b'{"results": []}'
SECRET = b"s3cret-hmac-key"


def stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(raw_webhooks)).scalar_one())


@pytest.fixture
def configured(db_url: str, engine: Engine) -> Iterator[Any]:
    """A factory: configured(**settings) -> a client for an app with those settings."""
    clients: list[TestClient] = []

    def make(peer: str = "127.0.0.1", **overrides: Any) -> TestClient:
        settings = Settings(database_url=db_url, _env_file=None, **overrides)  # type: ignore[call-arg]
        client = make_client(settings, engine, client=(peer, 40000))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def send(
    client: TestClient,
    headers: dict[str, str] | None = None,
    body: bytes = BODY,
    path: str = "/webhooks/sms",
) -> Any:
    return client.post(
        path, content=body, headers={"content-type": "application/json", **(headers or {})}
    )


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (basic("infobip", "pa:ss"), 200),
        ({}, 401),
        (basic("infobip", "wrong"), 401),
        (basic("someone", "pa:ss"), 401),
        ({"Authorization": "Basic !!!not-base64"}, 401),
        ({"Authorization": "Bearer pa:ss"}, 401),
    ],
    ids=["right", "missing", "wrong-password", "wrong-user", "malformed", "other-scheme"],
)
def test_basic_auth(configured: Any, engine: Engine, headers: dict[str, str], status: int) -> None:
    client = configured(webhook_username="infobip", webhook_password="pa:ss")
    response = send(client, headers)
    assert response.status_code == status
    assert stored(engine) == (1 if status == 200 else 0)
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    ("headers", "query", "status"),
    [
        ({"X-Webhook-Token": "tok-123"}, "", 200),
        ({}, "?token=tok-123", 200),
        ({}, "", 401),
        ({"X-Webhook-Token": "tok-124"}, "", 401),
        ({}, "?token=nope", 401),
    ],
    ids=["header", "query", "missing", "wrong-header", "wrong-query"],
)
def test_token_in_header_or_query(
    configured: Any, engine: Engine, headers: dict[str, str], query: str, status: int
) -> None:
    client = configured(webhook_token="tok-123")
    assert send(client, headers, path=f"/webhooks/sms{query}").status_code == status
    assert stored(engine) == (1 if status == 200 else 0)


def test_token_header_is_never_stored(configured: Any, engine: Engine) -> None:
    client = configured(webhook_token="tok-123", keep_headers="content-type,x-webhook-token")
    response = send(client, {"X-Webhook-Token": "tok-123"})
    raw = client.get(f"/v1/webhooks/{response.headers['x-webhook-id']}").json()
    assert "x-webhook-token" not in raw["headers"]
    assert raw["headers"]["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("algorithm", "encoding"),
    [
        ("sha256", "hex"),
        ("sha256", "base64"),
        ("sha512", "hex"),
        ("sha1", "base64"),
        ("HMAC_SHA_384", "hex"),
    ],
)
def test_hmac_signature_accepted(configured: Any, algorithm: str, encoding: str) -> None:
    client = configured(
        webhook_hmac_secret=SECRET.decode(),
        webhook_hmac_header="X-Sig",
        webhook_hmac_algorithm=algorithm,
    )
    normalized = algorithm.lower().replace("hmac_", "").replace("_", "")
    signature = hmac_signature(SECRET, BODY, normalized, encoding)
    assert send(client, {"X-Sig": signature}).status_code == 200


def test_hmac_signature_with_algorithm_prefix_accepted(configured: Any) -> None:
    client = configured(webhook_hmac_secret=SECRET.decode(), webhook_hmac_header="X-Sig")
    signature = "sha256=" + hmac_signature(SECRET, BODY)
    assert send(client, {"X-Sig": signature}).status_code == 200


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({}, BODY),
        ({"X-Sig": hmac_signature(b"another-key", BODY)}, BODY),
        ({"X-Sig": hmac_signature(SECRET, BODY)}, BODY + b" "),
        ({"X-Sig": "zz"}, BODY),
    ],
    ids=["missing", "forged-key", "tampered-body", "garbage"],
)
def test_hmac_signature_refused(
    configured: Any, engine: Engine, headers: dict[str, str], body: bytes
) -> None:
    client = configured(webhook_hmac_secret=SECRET.decode(), webhook_hmac_header="X-Sig")
    assert send(client, headers, body).status_code == 401
    assert stored(engine) == 0


def test_hmac_with_timestamp_refuses_expired_and_accepts_fresh(
    configured: Any, engine: Engine
) -> None:
    client = configured(
        webhook_hmac_secret=SECRET.decode(),
        webhook_hmac_header="X-Sig",
        webhook_hmac_timestamp_header="X-Sig-Time",
        webhook_hmac_max_age_seconds=60,
    )

    def signed(stamp: int) -> dict[str, str]:
        signature = hmac_signature(SECRET, str(stamp).encode() + b"." + BODY)
        return {"X-Sig": signature, "X-Sig-Time": str(stamp)}

    now = int(time.time())
    assert send(client, signed(now - 3600)).status_code == 401
    # A replayed old signature with a fresh timestamp does not verify either.
    old = signed(now - 3600)
    assert send(client, {**old, "X-Sig-Time": str(now)}).status_code == 401
    assert send(client, signed(now)).status_code == 200
    assert stored(engine) == 1


def test_ip_allow_list_accepts_listed_address(configured: Any) -> None:
    client = configured(peer="193.105.74.10", webhook_allowed_ips="193.105.74.0/24")
    assert send(client).status_code == 200


def test_ip_allow_list_refuses_other_address(configured: Any, engine: Engine) -> None:
    client = configured(peer="198.51.100.7", webhook_allowed_ips="193.105.74.0/24")
    assert send(client).status_code == 401
    assert stored(engine) == 0


def test_forwarded_for_from_untrusted_peer_is_ignored(configured: Any, engine: Engine) -> None:
    """A spoofed X-Forwarded-For from a peer that is not a trusted proxy changes nothing."""
    client = configured(
        peer="198.51.100.7", webhook_allowed_ips="193.105.74.0/24", trusted_proxies="10.0.0.0/8"
    )
    assert send(client, {"X-Forwarded-For": "193.105.74.10"}).status_code == 401
    assert stored(engine) == 0


def test_forwarded_for_through_trusted_proxy_is_honoured(configured: Any) -> None:
    client = configured(
        peer="10.0.0.5", webhook_allowed_ips="193.105.74.0/24", trusted_proxies="10.0.0.0/8"
    )
    response = send(client, {"X-Forwarded-For": "193.105.74.10, 10.0.0.9"})
    assert response.status_code == 200
    raw = client.get(
        f"/v1/webhooks/{response.headers['x-webhook-id']}", headers={"X-Forwarded-For": "127.0.0.1"}
    )
    assert raw.status_code == 200
    assert raw.json()["remote_addr"] == "193.105.74.10"


def test_forwarded_for_chain_spoofed_before_trusted_proxy_is_refused(configured: Any) -> None:
    """The client put an allowed address first; the proxy appended the real one."""
    client = configured(
        peer="10.0.0.5", webhook_allowed_ips="193.105.74.0/24", trusted_proxies="10.0.0.0/8"
    )
    assert send(client, {"X-Forwarded-For": "193.105.74.10, 198.51.100.7"}).status_code == 401


def test_all_configured_modes_must_pass(configured: Any) -> None:
    client = configured(webhook_username="u", webhook_password="p", webhook_token="t")
    assert send(client, basic("u", "p")).status_code == 401
    assert send(client, {**basic("u", "p"), "X-Webhook-Token": "t"}).status_code == 200


def test_body_over_the_limit_is_413_and_not_stored(configured: Any, engine: Engine) -> None:
    client = configured(max_body_bytes=2048)
    assert send(client, body=b"x" * 2049).status_code == 413
    assert send(client, body=b"x" * 2048).status_code == 200
    assert stored(engine) == 1


def test_chunked_body_over_the_limit_is_413(configured: Any, engine: Engine) -> None:
    client = configured(max_body_bytes=2048)

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"y" * 1000

    response = client.post(
        "/webhooks/sms", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert stored(engine) == 0


def test_ack_body_is_configurable(configured: Any) -> None:
    client = configured(ack_body="OK {id}", ack_content_type="text/plain")
    response = send(client)
    assert response.status_code == 200
    assert response.text == f"OK {response.headers['x-webhook-id']}"


def test_read_api_needs_the_bearer_token_when_one_is_set(configured: Any) -> None:
    client = configured(api_token="read-token")
    assert client.get("/v1/events").status_code == 401
    assert client.get("/v1/events", headers={"Authorization": "Bearer nope"}).status_code == 401
    ok = client.get("/v1/events", headers={"Authorization": "Bearer read-token"})
    assert ok.status_code == 200


def test_read_api_without_token_answers_loopback_only(configured: Any) -> None:
    remote = configured(peer="198.51.100.7")
    assert remote.get("/v1/events").status_code == 403
    local = configured(peer="127.0.0.1")
    assert local.get("/v1/events").status_code == 200


def test_bad_settings_say_which_and_why() -> None:
    from events.config import SettingsError, load_settings

    with pytest.raises(SettingsError, match="INFOBIP_EVENTS_WEBHOOK_ALLOWED_IPS"):
        load_settings(webhook_allowed_ips="not-an-ip", _env_file=None)
    with pytest.raises(SettingsError, match="WEBHOOK_HMAC_HEADER"):
        load_settings(webhook_hmac_secret="x", _env_file=None)
    with pytest.raises(SettingsError, match="HMAC algorithm"):
        load_settings(webhook_hmac_algorithm="crc32", _env_file=None)

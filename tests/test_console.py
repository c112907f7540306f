"""The web console through its HTTP answers (the browser tests drive the same pages in
Chromium): who may see it, the session cookie, CSRF, and what each page shows and does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from starlette.testclient import TestClient

from events.config import Settings
from events.console.overview import figures
from events.console.session import COOKIE
from events.process import Processor
from storage.db import write_transaction
from storage.queries.console import TrafficCount
from storage.queries.decisions import insert_decisions
from storage.queries.messages import get_messages, timeline
from storage.queries.outbox import get_action
from storage.queries.raw import insert_raw, raw_row
from tests.conftest import drain, inbound_sms, make_client, post
from tests.console_helpers import (
    TOKEN,
    csrf_of,
    dead_action,
    delivery_report,
    failed_webhook,
    raw_state,
)

PAGES = (
    "/console/",
    "/console/?window=1h",
    "/console/?window=48h",
    "/console/webhooks",
    "/console/webhooks?state=failed&channel=sms&since=24h&until=0m",
    "/console/messages",
    "/console/messages?q=nothing-like-it",
    "/console/actions",
    "/console/actions?state=dead",
    "/console/dead-letters",
    "/console/opt-outs",
    "/console/opt-outs?contact=%2B41793026727",
    "/console/reconcile",
)


def with_token(settings: Settings, **extra: Any) -> Settings:
    return settings.model_copy(update={"api_token": SecretStr(TOKEN), **extra})


@pytest.fixture
def console(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with make_client(with_token(settings), engine) as c:
        yield c


def log_in(client: TestClient, token: str = TOKEN) -> Any:
    csrf = csrf_of(client.get("/console/login").text)
    data = {"csrf": csrf, "token": token, "next": "/console/"}
    return client.post("/console/login", data=data, follow_redirects=False)


def test_a_visitor_without_a_session_is_sent_to_the_login_page(console: TestClient) -> None:
    for page in PAGES:
        answer = console.get(page, follow_redirects=False)
        assert answer.status_code == 303, page
        assert answer.headers["location"].startswith("/console/login?next=%2Fconsole")


def test_console_without_its_slash_leads_to_the_overview(console: TestClient) -> None:
    log_in(console)
    answer = console.get("/console")
    assert answer.url.path == "/console/"
    assert "<h1>Overview</h1>" in answer.text


def test_login_with_the_token_gives_a_signed_strict_httponly_cookie_without_the_token(
    console: TestClient,
) -> None:
    answer = log_in(console)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP here: a Secure cookie would never come back
    assert TOKEN not in cookie
    for page in PAGES:
        shown = console.get(page)
        assert shown.status_code == 200, page
        assert TOKEN not in shown.text


def test_over_https_the_cookie_is_secure(settings: Settings, engine: Engine) -> None:
    with make_client(with_token(settings), engine, base_url="https://testserver") as c:
        assert "Secure" in log_in(c).headers["set-cookie"]


def test_behind_a_tls_proxy_the_cookie_is_secure_when_public_url_is_https(
    settings: Settings, engine: Engine
) -> None:
    proxied = with_token(settings).model_copy(update={"public_url": "https://events.example.com"})
    # The proxy speaks plain HTTP to the service; the login page sets the first cookie.
    with make_client(proxied, engine) as c:
        assert "Secure" in c.get("/console/login").headers["set-cookie"]
    with make_client(with_token(settings), engine) as c:
        assert "Secure" not in c.get("/console/login").headers["set-cookie"]


def test_a_wrong_token_is_refused_and_logs_nobody_in(console: TestClient) -> None:
    answer = log_in(console, "not-the-token")
    assert answer.status_code == 401
    assert "not the API token" in answer.text
    assert console.get("/console/", follow_redirects=False).status_code == 303


def test_a_tampered_cookie_is_no_session(console: TestClient) -> None:
    log_in(console)
    value = console.cookies[COOKIE]
    payload, _, signature = value.partition(".")
    console.cookies.set(COOKIE, payload + "." + signature[::-1], path="/console")
    assert console.get("/console/", follow_redirects=False).status_code == 303


def test_a_session_signed_under_another_token_is_no_session(
    settings: Settings, engine: Engine
) -> None:
    with make_client(with_token(settings), engine) as first:
        log_in(first)
        value = first.cookies[COOKIE]
    other = settings.model_copy(update={"api_token": SecretStr("another-token-5678")})
    with make_client(other, engine) as second:
        second.cookies.set(COOKIE, value, path="/console")
        assert second.get("/console/", follow_redirects=False).status_code == 303


def test_a_form_without_the_sessions_csrf_token_changes_nothing(
    console: TestClient, engine: Engine
) -> None:
    log_in(console)
    action_id = dead_action(engine)
    for data in ({}, {"csrf": "forged"}):
        answer = console.post(f"/console/actions/{action_id}/retry", data=data)
        assert answer.status_code == 403
        assert "nothing was done" in answer.text
    with engine.connect() as conn:
        action = get_action(conn, action_id)
    assert action is not None and action.state == "dead"


def test_the_login_form_itself_needs_its_csrf_token(console: TestClient) -> None:
    console.get("/console/login")
    answer = console.post("/console/login", data={"token": TOKEN}, follow_redirects=False)
    assert answer.status_code == 403
    assert console.get("/console/", follow_redirects=False).status_code == 303


def test_logging_out_ends_the_session(console: TestClient) -> None:
    log_in(console)
    csrf = csrf_of(console.get("/console").text)
    answer = console.post("/console/logout", data={"csrf": csrf}, follow_redirects=False)
    assert answer.headers["location"] == "/console/login"
    assert console.get("/console/", follow_redirects=False).status_code == 303


def test_without_a_token_loopback_clients_need_no_login_and_others_are_refused(
    settings: Settings, engine: Engine
) -> None:
    with make_client(settings, engine) as local:
        assert "loopback clients only" in local.get("/console/login").text
        for page in PAGES:
            assert local.get(page).status_code == 200, page
        action_id = dead_action(engine)
        csrf = csrf_of(local.get("/console/dead-letters").text)
        retried = local.post(f"/console/actions/{action_id}/retry", data={"csrf": csrf})
        assert "is queued again" in retried.text
    with make_client(settings, engine, client=("10.1.2.3", 40000)) as remote:
        refused = remote.get("/console")
        assert refused.status_code == 403
        assert "loopback clients only" in refused.text


def figure(html: str, channel: str, name: str) -> str:
    row = re.search(rf'<tr data-channel="{channel}">(.*?)</tr>', html, re.S)
    assert row, f"no row for {channel}"
    cell = re.search(rf'data-figure="{name}">\s*([0-9]+)', row.group(1))
    assert cell, f"no {name} in the {channel} row"
    return cell.group(1)


def test_the_overview_counts_reports_by_channel_and_outcome(
    console: TestClient, processor: Processor
) -> None:
    log_in(console)
    post(console, "sms", delivery_report("ov-1"))
    post(console, "sms", delivery_report("ov-2", group="UNDELIVERABLE"))
    post(console, "sms", delivery_report("ov-3", group="UNDELIVERABLE"))
    post(console, "sms", inbound_sms("hello"))
    drain(processor)
    html = console.get("/console").text
    assert figure(html, "sms", "sent") == "3"
    assert figure(html, "sms", "delivered") == "1"
    assert figure(html, "sms", "undeliverable") == "2"
    assert "66.7%" in html
    assert figure(html, "sms", "inbound") == "1"
    # The query's buckets are the chart's: this hour's bar is drawn, full height.
    assert re.search(r'<rect class="sent" [^>]*height="32.00"', html)
    for window in ("1h", "6h", "48h"):
        assert re.search(
            r'<rect class="sent" [^>]*height="32.00"',
            console.get(f"/console/?window={window}").text,
        )


def test_the_overview_shows_the_backlogs(console: TestClient, engine: Engine) -> None:
    log_in(console)
    post(console, "sms", delivery_report("waiting-1"))
    dead_action(engine)
    html = console.get("/console").text
    assert re.search(r'data-figure="raw_pending">1<', html)
    assert re.search(r'data-figure="dead">1<', html)
    assert "oldest" in html


def test_replay_runs_a_failed_webhook_through_the_parsers_again(
    console: TestClient, engine: Engine
) -> None:
    log_in(console)
    raw_id = failed_webhook(engine, delivery_report("replayed-1"))
    listed = console.get("/console/webhooks?state=failed").text
    assert f'data-replay="{raw_id}"' in listed
    answer = console.post(f"/console/webhooks/{raw_id}/replay", data={"csrf": csrf_of(listed)})
    assert "now processed" in answer.text
    assert raw_state(engine, raw_id) == "processed"
    with engine.connect() as conn:
        assert get_messages(conn, "replayed-1", "sms")


def test_retry_queues_a_dead_action_again(console: TestClient, engine: Engine) -> None:
    log_in(console)
    action_id = dead_action(engine)
    page = console.get("/console/dead-letters").text
    assert f'data-retry="{action_id}"' in page
    answer = console.post(
        f"/console/actions/{action_id}/retry",
        data={"csrf": csrf_of(page), "back": "/console/dead-letters"},
    )
    assert answer.url.path == "/console/dead-letters"
    assert f"Action {action_id} is queued again" in answer.text
    with engine.connect() as conn:
        action = get_action(conn, action_id)
    assert action is not None and (action.state, action.attempts) == ("pending", 0)


def test_retry_goes_back_to_console_pages_only(console: TestClient, engine: Engine) -> None:
    log_in(console)
    action_id = dead_action(engine)
    csrf = csrf_of(console.get("/console").text)
    answer = console.post(
        f"/console/actions/{action_id}/retry",
        data={"csrf": csrf, "back": "https://elsewhere.example/"},
        follow_redirects=False,
    )
    assert answer.headers["location"].startswith("/console/?done=retried")


def test_a_number_finds_the_messages_to_and_from_it_whatever_its_writing(
    console: TestClient, processor: Processor
) -> None:
    log_in(console)
    post(console, "sms", delivery_report("to-him", to="41793026727"))
    post(console, "sms", delivery_report("to-another", to="41793026000"))
    post(console, "sms", inbound_sms("hi", sender="41793026727", message_id="from-him"))
    drain(processor)
    for writing in ("+41 79 302 67 27", "41793026727", "0041793026727"):
        html = console.get("/console/messages", params={"q": writing}).text
        assert "to-him" in html and "from-him" in html, writing
        assert "to-another" not in html


def test_a_message_id_shows_its_timeline_and_the_rules_decisions(
    console: TestClient, engine: Engine, processor: Processor
) -> None:
    log_in(console)
    post(console, "sms", delivery_report("explained-1"))
    drain(processor)
    with write_transaction(engine) as conn:
        event = timeline(conn, "sms", "explained-1")[0]
        decision = {
            "event_id": event.id,
            "rule": "thank-on-delivery",
            "outcome": "skipped",
            "reason": "quiet hours until 08:00",
            "contact": "+41793026727",
            "digest": None,
            "actions": [],
            "not_before": None,
            "rules_version": "v1",
            "created_at": datetime.now(UTC),
        }
        insert_decisions(conn, [decision])  # type: ignore[list-item]
    html = console.get("/console/messages", params={"q": "explained-1"}).text
    assert 'id="message-state">delivered<' in html
    assert "thank-on-delivery" in html and "quiet hours until 08:00" in html


def test_webhook_page_shows_the_raw_body_and_hides_credentials_in_headers(
    console: TestClient, engine: Engine
) -> None:
    """The receiver keeps no credential header it checks; one kept by a wide KEEP_HEADERS
    (or stored before) is still never shown."""
    log_in(console)
    row = raw_row(
        channel="sms",
        body=delivery_report("body-1"),
        content_type="application/json",
        headers={"authorization": "Basic c2VjcmV0OnNlY3JldA==", "x-api-key": "abc-secret-key"},
        remote_addr="127.0.0.1",
        inbound=False,
    )
    with write_transaction(engine) as conn:
        insert_raw(conn, [row])
    html = console.get(f"/console/webhooks/{row['id']}").text
    assert "body-1" in html and "DELIVERED" in html
    assert "c2VjcmV0OnNlY3JldA" not in html and "abc-secret-key" not in html
    assert html.count("(hidden)") == 2


def test_a_state_lists_the_newest_of_both_priorities(console: TestClient, engine: Engine) -> None:
    """Inbound bodies (priority 0) and reports (priority 1) are listed together, newest first."""
    log_in(console)
    older = failed_webhook(engine, delivery_report("p-1"))
    newer = failed_webhook(engine, inbound_sms("hello"), inbound=True)
    newest = failed_webhook(engine, delivery_report("p-2"))
    html = console.get("/console/webhooks?state=failed").text
    # Ids sort by arrival (to the millisecond; within one, by their random part).
    assert re.findall(r'data-webhook="([^"]+)"', html) == sorted([older, newer, newest])[::-1]


def test_a_message_id_on_two_channels_lists_both(console: TestClient, processor: Processor) -> None:
    log_in(console)
    post(console, "sms", delivery_report("shared-id"))
    post(console, "sms", inbound_sms("hi", message_id="other-id"))
    post(console, "mms", delivery_report("shared-id"))
    drain(processor)
    html = console.get("/console/messages", params={"q": "shared-id"}).text
    assert "2 messages for" in html
    assert "/console/messages/sms/shared-id" in html and "/console/messages/mms/shared-id" in html


def test_webhooks_filter_by_channel_state_and_time(console: TestClient, engine: Engine) -> None:
    log_in(console)
    failed = failed_webhook(engine, b"{}")
    pending = post(console, "sms", delivery_report("f-1")).json()["id"]
    assert failed in console.get("/console/webhooks?state=failed").text
    assert pending not in console.get("/console/webhooks?state=failed").text
    assert pending in console.get("/console/webhooks?channel=sms&since=1h").text
    assert pending not in console.get("/console/webhooks?channel=email").text
    assert pending not in console.get("/console/webhooks?until=2h").text


def test_filters_that_cannot_be_used_say_what_is_wrong(console: TestClient) -> None:
    log_in(console)
    for page, words in (
        ("/console/?window=2y", "window must be one of 1h, 6h, 24h, 48h"),
        ("/console/webhooks?state=lost", "state must be one of"),
        ("/console/webhooks?since=yesterday-ish", "since:"),
        ("/console/actions?state=asleep", "state must be one of"),
        ("/console/opt-outs?contact=12", "contact:"),
    ):
        answer = console.get(page)
        assert answer.status_code == 400, page
        assert words in answer.text, page
    missing = console.get("/console/webhooks/no-such-id")
    assert missing.status_code == 404 and "no webhook &#39;no-such-id&#39;" in missing.text


def test_every_answer_forbids_outside_scripts_and_caching(console: TestClient) -> None:
    log_in(console)
    answer = console.get("/console")
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"
    assert "http" not in re.sub(r'href="/[^"]*"', "", answer.text).split("<main>")[0]


def test_figures_give_rates_of_those_sent_and_a_bar_per_bucket() -> None:
    now = datetime(2026, 12, 6, 5, 30, tzinfo=UTC)
    since = now - timedelta(hours=24)
    counts = [
        TrafficCount("2026-12-06 04", "sms", "outbound", "delivered", 3),
        TrafficCount("2026-12-06 05", "sms", "outbound", "rejected", 1),
        TrafficCount("2026-12-06 05", "sms", "outbound", "pending", 4),
        TrafficCount("2026-12-06 05", "sms", "inbound", "received", 2),
        TrafficCount("2026-12-06 05", "email", "outbound", "delivered", 2),
    ]
    email, sms, total = figures(counts, since, now, "hour")
    assert (sms.sent, sms.inbound, sms.outcomes["unknown"]) == (8, 2, 4)
    assert sms.rate("delivered") == "37.5%" and sms.rate("rejected") == "12.5%"
    assert (email.channel, total.channel, total.sent) == ("email", "all channels", 10)
    assert len(sms.bars) == 25  # 05:00 yesterday to 05:00 today, both ends
    assert sms.bars[-1].sent_height == 32 and sms.bars[-1].failed_height == 32 / 5
    assert sms.bars[-2].sent_height == pytest.approx(32 * 3 / 5)
    assert figures([], since, now, "hour") == []

"""GET /metrics: every family after real traffic (fixtures posted, processed, dispatched through
the fake Membrane, reconciled), the values right, labels bounded, the read API's
authentication, metrics off; and under a real `serve`, the counters of the receiver and the
worker summed by the receiver."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from events import metrics
from events.api.metrics import wsgi_metrics
from events.config import Settings
from events.membrane.catalogue import ACTIONS
from events.outbox import enqueue
from events.services import Services
from storage.db import write_transaction
from storage.queries.account import insert_balance
from tests.conftest import content_type_of, fixture_bytes, inbound_sms, make_client, post
from tests.fakes.membrane import FakeMembrane, Knobs
from tests.fakes.membrane_api import FakeApiServer
from tests.helpers_proc import Server, free_port
from tests.test_serve import children_of, role, wait_for

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "examples" / "prometheus-alerts.yml"
QUIZ_RULES = """
[[rules]]
name = "quiz-answer"
when = { channel = "sms", kind = "inbound", first_word = ["quiz"] }
do = [{ type = "reply", text = "Thanks for your answer" }]
"""
RECEIVED = "infobip_events_webhooks_received_total"
PROCESSED = "infobip_events_raw_webhooks_processed_total"
STORED = "infobip_events_events_stored_total"
DLR = "sms/dlr_v3_delivered_batch_of_2.json"
FAMILIES = (
    "infobip_events_webhooks_received_total",
    "infobip_events_webhook_ack_duration_seconds_bucket",
    "infobip_events_raw_inbox_pending",
    "infobip_events_raw_inbox_oldest_pending_age_seconds",
    "infobip_events_raw_webhooks_processed_total",
    "infobip_events_events_stored_total",
    "infobip_events_outbox_actions",
    "infobip_events_dispatch_attempts_total",
    "infobip_events_dispatch_outcomes_total",
    "infobip_events_dispatch_failures_total",
    "infobip_events_membrane_call_duration_seconds_bucket",
    "infobip_events_reconcile_runs_total",
    "infobip_events_reconcile_recovered_total",
    "infobip_events_reconcile_windows_closed_total",
    "infobip_events_reconcile_last_run_still_missing",
    "infobip_events_reconcile_last_run_timestamp_seconds",
    "infobip_events_opt_outs_total",
    "infobip_events_opt_ins_total",
    "infobip_events_rule_decisions_total",
    "infobip_events_database_errors_total",
)
# Label values that are an id or a number (the HTTP code and the bucket bound aside).
ID_LIKE = re.compile(r"[-+.\d]+|[0-9a-f]{12,}|.*\d{6,}.*", re.IGNORECASE)


def parse(body: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


@pytest.fixture
def fake() -> Iterator[tuple[FakeMembrane, str]]:
    membrane = FakeMembrane(knobs=Knobs())
    with FakeApiServer(membrane) as server:
        yield membrane, server.url


def traffic_settings(db_url: str, url: str, tmp_path: Path, **extra: Any) -> Settings:
    rules = tmp_path / "rules.toml"
    rules.write_text(QUIZ_RULES)
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db_url,
        sqlite_synchronous="NORMAL",
        rules_file=str(rules),
        membrane_transport="http",
        membrane_api_url=url,
        membrane_connection_id="con_fake",
        membrane_token="pat-fake",
        **extra,
    )


@contextmanager
def serving(
    db_url: str, engine: Engine, fake: tuple[FakeMembrane, str], tmp_path: Path
) -> Iterator[tuple[TestClient, Services, FakeMembrane]]:
    """The app (the receiver and the API) and, in the same process, the workers' objects
    (processor, dispatcher, reconciler) on the fake Membrane."""
    membrane, url = fake
    settings = traffic_settings(db_url, url, tmp_path)
    with make_client(settings, engine) as client:
        services = Services(settings, engine=engine)
        try:
            yield client, services, membrane
        finally:
            services.stop()


def run_traffic(client: TestClient, services: Services, membrane: FakeMembrane) -> None:
    """3 delivery reports, a QUIZ answer (a rule replies), STOP and START (an opt-out and an
    opt-in), an unknown channel; processed, dispatched (one send fails for good), and one
    statement the database refuses."""
    for _ in range(3):
        assert post(client, "sms", fixture_bytes(DLR), content_type_of(DLR)).status_code == 200
    quiz = "sms/inbound_mo_json_2_keyword_quiz.json"
    assert post(client, "sms", fixture_bytes(quiz)).status_code == 200
    other = "385916000001"  # not the QUIZ sender: the reply is not suppressed
    assert post(client, "sms", inbound_sms("STOP", other, "mo-stop")).status_code == 200
    assert post(client, "sms", inbound_sms("START", other, "mo-start")).status_code == 200
    assert post(client, "no-such-channel", b"{}").status_code == 404
    while services.processor.run_once():
        pass
    while services.dispatcher.run_once():
        pass
    with write_transaction(services.engine) as conn:
        enqueue(
            conn,
            ACTIONS,
            "send-sms-message",
            {"to": "41793026000", "text": "x"},
            idempotency_key="m",
        )
    membrane.knobs.fail_status = 400
    while services.dispatcher.run_once():
        pass
    membrane.knobs.fail_status = None
    with pytest.raises(Exception, match="no_such_table"), services.engine.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table"))


def test_every_family_is_exposed_after_traffic_with_the_right_values(
    db_url: str, engine: Engine, fake: tuple[FakeMembrane, str], tmp_path: Path
) -> None:
    with serving(db_url, engine, fake, tmp_path) as (client, services, membrane):
        before = scrape(client)
        run_traffic(client, services, membrane)
        after = scrape(client)
        assert services.reconciler.run() is not None
        reconciled = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert set(FAMILIES) <= names(reconciled)
    assert grew(RECEIVED, channel="sms", code="200") == 6
    assert grew(RECEIVED, channel="other", code="404") == 1
    assert grew("infobip_events_webhook_ack_duration_seconds_count", channel="sms") == 6
    processed = grew(PROCESSED, channel="sms", outcome="processed")
    assert processed == 6
    # The three reports are one batch of two, redelivered twice: two new events, not six.
    assert grew(STORED, channel="sms", kind="delivery") == 2
    assert grew(STORED, channel="sms", kind="inbound") == 3
    assert grew("infobip_events_rule_decisions_total", rule="quiz-answer", outcome="fired") == 1
    assert grew("infobip_events_opt_outs_total", channel="sms", source="inbound") == 1
    assert grew("infobip_events_opt_ins_total", channel="sms", source="inbound") == 1
    send = "send-sms-message"
    assert grew("infobip_events_dispatch_outcomes_total", action=send, outcome="failed") == 1
    assert grew("infobip_events_dispatch_failures_total", action=send, failure="permanent") == 1
    done = grew("infobip_events_dispatch_outcomes_total", action=send, outcome="done")
    attempts = grew("infobip_events_dispatch_attempts_total", action=send)
    assert done >= 1 and attempts == done + 1
    calls = "infobip_events_membrane_call_duration_seconds_count"
    assert grew(calls, call="run_action", outcome="ok") >= done
    assert grew(calls, call="run_action", outcome="permanent") == 1
    runs = "infobip_events_reconcile_runs_total"
    assert value(reconciled, runs, state="done") - value(after, runs, state="done") == 1
    assert value(reconciled, "infobip_events_reconcile_last_run_timestamp_seconds") > 0
    assert value(after, "infobip_events_raw_inbox_pending") == 0
    assert value(after, "infobip_events_outbox_actions", state="failed") == 1
    assert value(after, "infobip_events_outbox_actions", state="dead") == 0
    errors = sum(
        grew("infobip_events_database_errors_total", kind=k) for k in ("operational", "programming")
    )
    assert errors == 1


def test_labels_are_bounded_no_id_or_number_becomes_a_label(
    db_url: str, engine: Engine, fake: tuple[FakeMembrane, str], tmp_path: Path
) -> None:
    with serving(db_url, engine, fake, tmp_path) as (client, services, membrane):
        run_traffic(client, services, membrane)
        # Paths made of ids and numbers are posted too: they must not become labels.
        post(client, "01a249d837e4f9ec66ffe7a9ffa83c8d", b"{}")
        post(client, "385916242493", b"{}")
        services.reconciler.run()
        samples = scrape(client)
    seen = {(k, v) for _, labels in samples for k, v in labels}
    assert ("channel", "sms") in seen
    for key, label in seen:
        if key == "le":
            continue
        if key == "code":
            assert label in {"200", "401", "404", "405", "413", "503", "other"}
        else:
            assert not ID_LIKE.fullmatch(label), (key, label)


def test_a_pending_webhook_shows_in_the_backlog_with_its_age(client: TestClient) -> None:
    assert post(client, "sms", fixture_bytes(DLR)).status_code == 200
    samples = scrape(client)
    assert value(samples, "infobip_events_raw_inbox_pending") == 1
    assert value(samples, "infobip_events_raw_inbox_oldest_pending_age_seconds") >= 0


def test_the_last_balance_read_is_a_gauge_in_its_currency(
    client: TestClient, engine: Engine
) -> None:
    assert "infobip_events_account_balance" not in names(scrape(client))  # never read yet
    with write_transaction(engine) as conn:
        early = datetime(2026, 12, 1, 8, tzinfo=UTC)
        insert_balance(conn, early, Decimal("50.00"), "EUR", "a1")
        insert_balance(conn, early + timedelta(minutes=15), Decimal("47.79"), "EUR", "a2")
    assert value(scrape(client), "infobip_events_account_balance", currency="EUR") == 47.79


def test_metrics_need_the_bearer_token_when_one_is_set(settings: Settings, engine: Engine) -> None:
    with_token = settings.model_copy(update={"api_token": SecretStr("s3cret-token")})
    with make_client(with_token, engine, client=("203.0.113.9", 4000)) as client:
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = client.get("/metrics", headers={"authorization": "Bearer s3cret-token"})
        assert right.status_code == 200
        assert "infobip_events_raw_inbox_pending" in right.text


def test_metrics_answer_loopback_clients_only_without_a_token(
    settings: Settings, engine: Engine
) -> None:
    with make_client(settings, engine, client=("203.0.113.9", 4000)) as client:
        response = client.get("/metrics")
        assert response.status_code == 403
        assert "INFOBIP_EVENTS_API_TOKEN" in response.json()["error"]
    with make_client(settings, engine) as client:
        assert client.get("/metrics").status_code == 200
        proxied = client.get("/metrics", headers={"x-forwarded-for": "203.0.113.9"})
        assert proxied.status_code == 403


def test_metrics_off_count_nothing_and_answer_404(settings: Settings, engine: Engine) -> None:
    with make_client(settings, engine) as client:
        before = value(scrape(client), RECEIVED, channel="sms", code="200")
    off = settings.model_copy(update={"metrics": False})
    try:
        with make_client(off, engine) as client:
            assert post(client, "sms", fixture_bytes(DLR)).status_code == 200
            response = client.get("/metrics")
            assert response.status_code == 404
            assert "INFOBIP_EVENTS_METRICS" in response.json()["error"]
    finally:
        metrics.configure(True)  # the switch is the process's: on again for the other tests
    with make_client(settings, engine) as client:
        after = scrape(client)
    assert value(after, RECEIVED, channel="sms", code="200") == before


def test_the_openapi_document_lists_metrics(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "get" in paths["/metrics"]


# ---- the example alert rules ------------------------------------------------------------------


def test_the_example_alert_rules_parse_and_name_only_exported_metrics() -> None:
    doc = yaml.safe_load(ALERTS.read_text())
    rules = [rule for group in doc["groups"] for rule in group["rules"]]
    assert {r["alert"] for r in rules} >= {  # backlog age, dead letters, misses, Membrane
        "InfobipEventsBacklogOld",
        "InfobipEventsDeadLetters",
        "InfobipEventsReconcileMisses",
        "InfobipEventsMembraneFailures",
    }
    exported = {f.removesuffix("_bucket") for f in FAMILIES} | {f for f in FAMILIES}
    for rule in rules:
        assert rule["expr"].strip() and rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        used = set(re.findall(r"infobip_events_[a-z_]+", rule["expr"]))
        assert used, rule["alert"]
        for name in used:
            base = re.sub(r"_(count|sum)$", "", name)
            assert name in exported or base in exported, (rule["alert"], name)
    promtool = shutil.which("promtool")
    if promtool is not None:  # the real check where Prometheus' tool is installed
        done = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True)
        assert done.returncode == 0, done.stdout + done.stderr


# ---- serve: a receiver and a worker, one /metrics ----------------------------------------------


def serve_samples(server: Server) -> Samples:
    response = httpx.get(f"{server.url}/metrics", timeout=5)
    assert response.status_code == 200, response.text
    return parse(response.text)


def wait_for_value(server: Server, name: str, expected: float, **labels: str) -> Samples:
    deadline = time.monotonic() + 30
    while True:
        samples = serve_samples(server)
        if value(samples, name, **labels) == expected or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)


@pytest.mark.slow
def test_serve_sums_the_counters_of_the_receiver_and_the_worker_across_restarts(
    db_url: str, tmp_path: Path
) -> None:
    server = Server(db_url, tmp_path / "serve.log")
    server.start()
    try:
        assert server.proc is not None
        supervisor = server.proc.pid
        wait_for(lambda: len(role(children_of(supervisor), "worker")) == 1)
        body = fixture_bytes("sms/inbound_mo_json_2_keyword_quiz.json")
        for i in range(3):
            doc = json.loads(body)
            doc["results"][0]["messageId"] = f"serve-metrics-{i}"
            response = httpx.post(
                f"{server.url}/webhooks/sms",
                content=json.dumps(doc).encode(),
                headers={"content-type": "application/json"},
            )
            assert response.status_code == 200
        processed = PROCESSED
        samples = wait_for_value(server, processed, 3, channel="sms", outcome="processed")
        # Counted by the receiver process, and by the worker process: one answer has both.
        assert value(samples, RECEIVED, channel="sms", code="200") == 3
        assert value(samples, processed, channel="sms", outcome="processed") == 3
        assert value(samples, STORED, channel="sms", kind="inbound") == 3
        # A worker that dies keeps its counts; the new one adds to them.
        [worker] = role(children_of(supervisor), "worker")
        os.kill(worker, signal.SIGKILL)
        wait_for(lambda: role(children_of(supervisor), "worker") not in ([], [worker]))
        doc = json.loads(body)
        doc["results"][0]["messageId"] = "serve-metrics-after-restart"
        response = httpx.post(
            f"{server.url}/webhooks/sms",
            content=json.dumps(doc).encode(),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 200
        samples = wait_for_value(server, processed, 4, channel="sms", outcome="processed")
        assert value(samples, processed, channel="sms", outcome="processed") == 4
        assert value(samples, RECEIVED, channel="sms", code="200") == 4
    finally:
        server.stop()


# ---- a worker on a host of its own: its own /metrics on METRICS_PORT --------------------------


def call_wsgi(app: Any, **environ: str) -> tuple[str, bytes]:
    answer: list[str] = []
    base = {"PATH_INFO": "/metrics", "REQUEST_METHOD": "GET", "REMOTE_ADDR": "127.0.0.1"}
    body = b"".join(app({**base, **environ}, lambda status, _headers: answer.append(status)))
    return answer[0], body


def test_a_worker_s_metrics_answer_loopback_clients_only_without_a_token(
    settings: Settings, engine: Engine
) -> None:
    app = wsgi_metrics(settings, engine)
    status, body = call_wsgi(app)
    assert status.startswith("200") and b"infobip_events_raw_inbox_pending" in body
    assert call_wsgi(app, REMOTE_ADDR="203.0.113.9")[0].startswith("403")
    assert call_wsgi(app, HTTP_X_FORWARDED_FOR="203.0.113.9")[0].startswith("403")
    assert call_wsgi(app, PATH_INFO="/v1/messages")[0].startswith("404")
    with_token = wsgi_metrics(settings.model_copy(update={"api_token": SecretStr("t0k")}), engine)
    assert call_wsgi(with_token, REMOTE_ADDR="203.0.113.9")[0].startswith("401")
    right = call_wsgi(with_token, REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer t0k")
    assert right[0].startswith("200")


@pytest.mark.slow
def test_a_worker_alone_serves_its_own_counts_on_metrics_port(
    db_url: str, client: TestClient, tmp_path: Path
) -> None:
    for _ in range(2):
        assert post(client, "sms", fixture_bytes(DLR)).status_code == 200
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR",)} | {
        "INFOBIP_EVENTS_DATABASE_URL": db_url,
        "INFOBIP_EVENTS_HOST": "127.0.0.1",
        "INFOBIP_EVENTS_METRICS_PORT": str(port),
        "INFOBIP_EVENTS_API_TOKEN": "t0k",
        "INFOBIP_EVENTS_RECONCILE_INTERVAL_SECONDS": "3600",
    }
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "events.cli", "worker"], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 30
        samples: Samples = {}
        while time.monotonic() < deadline:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            try:
                response = httpx.get(url, headers={"authorization": "Bearer t0k"}, timeout=2)
            except httpx.HTTPError:
                time.sleep(0.2)
                continue
            samples = parse(response.text)
            if value(samples, PROCESSED, channel="sms", outcome="processed") == 2:
                break
            time.sleep(0.2)
        assert value(samples, PROCESSED, channel="sms", outcome="processed") == 2
        assert value(samples, STORED, channel="sms", kind="delivery") == 2
        assert ("infobip_events_raw_inbox_pending", frozenset()) in samples  # the database's
        assert httpx.get(url, timeout=2).status_code == 401
    finally:
        worker.terminate()
        worker.wait(20)

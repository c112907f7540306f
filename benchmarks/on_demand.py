"""Webhook acks while Membrane hangs on on-demand calls (issue 13): the same run measures the
ack latency of webhooks with an idle Membrane (the baseline) and again while every on-demand
thread (ON_DEMAND_CONCURRENCY) and more are held by Number Lookups that Membrane never answers.

    python benchmarks/on_demand.py [--webhooks 300] [--hanging 6]

Starts `infobip-events serve` (SQLite, http transport) against the fake Membrane API
(tests/fakes) in a subprocess with its hang knob on for on-demand calls, and posts with httpx,
one webhook at a time. Prints p50/p99 of both phases, their ratio, and how the extra lookups
were answered (503 at once). Tool: httpx, time.perf_counter.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import figure, free_port, wait_up  # noqa: E402

FIXTURE = ROOT / "tests/fixtures/sms/dlr_v3_delivered_batch_of_2.json"
TARGET_P99_MS = 20.0  # the ack's target (benchmarks/ingest.py), whatever Membrane does
# The fake Membrane, every call held (the hang knob): Number Lookups never come back.
SERVER = """
import sys
from tests.fakes.membrane import FakeMembrane, Knobs
from tests.fakes.membrane_api import fake_api
import uvicorn
uvicorn.run(fake_api(FakeMembrane(knobs=Knobs(hang=True))), host="127.0.0.1",
            port=int(sys.argv[1]), log_level="warning", timeout_graceful_shutdown=1)
"""


def acks(url: str, n: int) -> list[float]:
    import httpx

    body = FIXTURE.read_bytes()
    out = []
    with httpx.Client(timeout=30) as client:
        for _ in range(n):
            started = time.perf_counter()
            response = client.post(
                f"{url}/webhooks/sms", content=body, headers={"content-type": "application/json"}
            )
            out.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
    return out


def listening(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("the fake Membrane did not come up")


def figures(ms: list[float]) -> tuple[float, float]:
    ordered = sorted(ms)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


def main() -> None:
    import httpx

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=300, help="webhooks per phase")
    parser.add_argument("--hanging", type=int, default=6, help="lookups sent to hang")
    args = parser.parse_args()
    fake_port, port = free_port(), free_port()
    fake = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(fake_port)], cwd=ROOT, stderr=subprocess.DEVNULL
    )
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "INFOBIP_EVENTS_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "INFOBIP_EVENTS_MEMBRANE_TRANSPORT": "http",
            "INFOBIP_EVENTS_MEMBRANE_API_URL": f"http://127.0.0.1:{fake_port}",
            "INFOBIP_EVENTS_MEMBRANE_TOKEN": "pat-fake",
            "INFOBIP_EVENTS_MEMBRANE_CONNECTION_ID": "con_fake",
            "INFOBIP_EVENTS_MEMBRANE_TIMEOUT_SECONDS": "20",
            "INFOBIP_EVENTS_ON_DEMAND_CONCURRENCY": "4",
            "INFOBIP_EVENTS_LOG_LEVEL": "WARNING",
        }
        log = Path(tmp) / "serve.log"
        cmd = [sys.executable, "-m", "events.cli", "serve", "--port", str(port)]
        serve = subprocess.Popen(
            cmd,
            env=env,
            cwd=ROOT,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            listening(fake_port)  # every call to it hangs: wait for the port only
            wait_up(f"{url}/healthz", proc=serve)
            acks(url, 20)  # warm up
            idle = acks(url, args.webhooks)
            statuses: list[int] = []

            def ask(i: int) -> None:
                try:
                    numbers = {"numbers": [f"+4179{i:07d}"]}
                    statuses.append(
                        httpx.post(f"{url}/v1/lookups", json=numbers, timeout=2).status_code
                    )
                except httpx.TimeoutException:
                    statuses.append(0)  # still held by Membrane when the client gave up

            threads = [threading.Thread(target=ask, args=(i,)) for i in range(args.hanging)]
            for t in threads:
                t.start()
            time.sleep(0.5)  # let the lookups take the pool
            held = acks(url, args.webhooks)
            for t in threads:
                t.join()
        finally:
            # The fake first: the lookups it holds then fail, and serve stops without waiting.
            fake.terminate()
            fake.wait(10)
            os.killpg(serve.pid, signal.SIGTERM)
            try:
                serve.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(serve.pid, signal.SIGKILL)
    (p50a, p99a), (p50b, p99b) = figures(idle), figures(held)
    print(f"webhook ack, Membrane idle:     p50 {p50a:.2f} ms, p99 {p99a:.2f} ms")
    print(f"webhook ack, lookups hanging:   p50 {p50b:.2f} ms, p99 {p99b:.2f} ms")
    print(f"ratio (hanging / idle):         p50 {p50b / p50a:.2f}, p99 {p99b / p99a:.2f}")
    note = "0: still held when the client gave up after 2 s; 503: the pool was full"
    print(f"the {args.hanging} lookups: {sorted(statuses)} ({note})")
    tool = "httpx, one webhook at a time, time.perf_counter"
    base = f"Membrane idle p50 {p50a:.2f} ms, p99 {p99a:.2f} ms"
    figure(
        f"webhook ack p99, {args.hanging} lookups hanging",
        f"<= {TARGET_P99_MS:g} ms (the ack's)",
        f"{p99b:.2f} ms",
        p99b / p99a,
        base,
        tool,
        p99b <= TARGET_P99_MS,
    )
    figure(
        f"webhook ack p50, {args.hanging} lookups hanging",
        "none",
        f"{p50b:.2f} ms",
        p50b / p50a,
        base,
        tool,
    )


if __name__ == "__main__":
    main()

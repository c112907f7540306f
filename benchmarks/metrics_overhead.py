"""What metrics cost the ack path: the same ingest load on `serve` with metrics on and off, in
the same run.

    python benchmarks/metrics_overhead.py [--duration 10] [--connections 32] [--rounds 3]
                                          [--database URL]

Starts `infobip-events serve` (receiver and worker processes, metrics in prometheus_client's
multiprocess mode as in production) on a fresh SQLite file per run, INFOBIP_EVENTS_METRICS=true
then false, rounds times in alternation so that the machine's drift falls on both alike, and
drives each with wrk POSTing a real SMS delivery report. Prints requests/s and p99 ack latency
of every run, the medians, and on/off as a ratio. On a shared machine the server runs vary more
than metrics cost, so it also times, in one process, a stub receiver bare and wrapped in the
instrumentation (one process, and multiprocess as under serve): the added microseconds per ack
and their share of the median ack. The load generator is wrk and nothing else: a
Python generator would measure itself more than the difference, so without wrk this refuses.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402
    figure,
    free_port,
    run_wrk,
    start,
    stop,
    wait_up,
    wrk_script,
    wrk_version,
)
from benchmarks.ingest import FIXTURE  # noqa: E402


def one_run(
    metrics: bool, database: str | None, work: Path, connections: int, duration: int
) -> dict[str, float]:
    port = free_port()
    url = database or f"sqlite:///{work}/bench-{os.getpid()}-{port}.db"
    env = {
        "INFOBIP_EVENTS_DATABASE_URL": url,
        "INFOBIP_EVENTS_PORT": str(port),
        "INFOBIP_EVENTS_HOST": "127.0.0.1",
        "INFOBIP_EVENTS_METRICS": "true" if metrics else "false",
        "INFOBIP_EVENTS_LOG_LEVEL": "WARNING",
        "INFOBIP_EVENTS_RECONCILE_INTERVAL_SECONDS": "3600",
    }
    body = wrk_script(work, FIXTURE.read_bytes())  # a POST of the real report, in work/
    log = work / f"serve-{port}.log"
    proc = start([sys.executable, "-m", "events.cli", "serve"], env, log)
    try:
        wait_up(f"http://127.0.0.1:{port}/readyz", proc=proc)
        run_wrk(f"http://127.0.0.1:{port}/webhooks/sms", body, connections, 2)  # warm-up
        result = run_wrk(f"http://127.0.0.1:{port}/webhooks/sms", body, connections, duration)
        result["counted"] = _counted(port) if metrics else 0.0
    finally:
        stop(proc)
    return result


def _counted(port: int) -> float:
    """The webhooks /metrics says were acknowledged (proof the metrics were really on)."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "infobip_events_webhooks_received_total" and sample.labels == {
                "channel": "sms",
                "code": "200",
            }:
                return sample.value
    return 0.0


MICRO = r"""
import asyncio, sys, time
from events import metrics

class Stub:  # a receiver that answers at once: what is left is the instrumentation's cost
    prefix = "/webhooks/"
    async def __call__(self, scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

async def sink(message):
    pass

async def timed(app, n):
    scope = {"type": "http", "path": "/webhooks/sms", "method": "POST"}
    started = time.perf_counter()
    for _ in range(n):
        await app(scope, None, sink)
    return (time.perf_counter() - started) / n * 1e6

async def main(n, rounds):
    bare, wrapped = Stub(), metrics.TimedWebhooks(Stub())
    await timed(wrapped, 1000)
    b = min([await timed(bare, n) for _ in range(rounds)])
    w = min([await timed(wrapped, n) for _ in range(rounds)])
    print(f"{b:.2f} {w:.2f} {int(metrics.families().multiprocess)}")

asyncio.run(main(int(sys.argv[1]), 5))
"""


def micro(multiprocess: bool, work: Path) -> tuple[float, float]:
    """Microseconds per request of a stub receiver, bare and wrapped in the instrumentation
    (TimedWebhooks: a counter, a histogram), in one process, best of 5 rounds."""
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["PYTHONPATH"] = str(ROOT)
    if multiprocess:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(work / "multiproc")
    out = subprocess.run(
        [sys.executable, "-c", MICRO, "50000"], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[2] == str(int(multiprocess)), out
    return float(out[0]), float(out[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--rounds", type=int, default=3, help="on/off pairs (default 3)")
    parser.add_argument("--database", help="a PostgreSQL URL instead of a fresh SQLite file")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print(
            "metrics_overhead needs wrk (apt-get install -y wrk); it uses no other load generator",
            file=sys.stderr,
        )
        return 2
    print(
        f"tool: wrk, {args.connections} connections, {args.duration}s a run, "
        f"{args.rounds} rounds, serve (receiver + worker), {args.database or 'SQLite'}"
    )
    results: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as work:
        for round_no in range(1, args.rounds + 1):
            for on in (True, False) if round_no % 2 else (False, True):
                r = one_run(on, args.database, Path(work), args.connections, args.duration)
                results[on].append(r)
                print(
                    f"round {round_no} metrics {'on ' if on else 'off'}: "
                    f"{r['rate']:8.0f} req/s  p50 {r['p50_ms']:6.2f} ms  "
                    f"p99 {r['p99_ms']:6.2f} ms  non-2xx {r['non2xx']:.0f}"
                    + (f"  /metrics counted {r['counted']:.0f}" if on else ""),
                    flush=True,
                )
        per_ack = {mode: micro(mode, Path(work)) for mode in (False, True)}
    rate = {on: statistics.median(r["rate"] for r in results[on]) for on in results}
    p99 = {on: statistics.median(r["p99_ms"] for r in results[on]) for on in results}
    print(f"median metrics off: {rate[False]:8.0f} req/s  p99 {p99[False]:6.2f} ms  (baseline)")
    print(f"median metrics on:  {rate[True]:8.0f} req/s  p99 {p99[True]:6.2f} ms")
    print(
        f"ratio on/off: throughput {rate[True] / rate[False]:.3f}, p99 {p99[True] / p99[False]:.3f}"
    )
    p50 = statistics.median(r["p50_ms"] for r in results[False]) * 1000
    for mode, (bare, wrapped) in per_ack.items():
        cost = wrapped - bare
        print(
            f"per ack, {'multiprocess (serve)' if mode else 'one process'}: stub receiver "
            f"{bare:.2f} us bare, {wrapped:.2f} us instrumented: +{cost:.2f} us, "
            f"{cost / p50:.4f} of the median ack ({p50 / 1000:.2f} ms, metrics off)"
        )
    # No target in the project for what metrics may cost: the figures are the same-run ratios.
    tool = f"{wrk_version()} -t2 -c{args.connections}"
    base = f"metrics off {rate[False]:.0f} req/s, p99 {p99[False]:.1f} ms"
    figure(
        f"ack rate, metrics on/off ({args.connections} conn)",
        "none",
        f"{rate[True]:.0f} req/s",
        rate[True] / rate[False],
        base,
        tool,
    )
    figure(
        f"ack p99, metrics on/off ({args.connections} conn)",
        "none",
        f"{p99[True]:.1f} ms",
        p99[True] / p99[False],
        base,
        tool,
    )
    bare, wrapped = per_ack[True]  # multiprocess, as under serve
    figure(
        "metrics cost per ack (stub receiver, multiprocess)",
        "none",
        f"+{wrapped - bare:.2f} us ({(wrapped - bare) / p50:.2%} of the median ack)",
        wrapped / bare,
        f"stub receiver bare {bare:.2f} us; median ack {p50 / 1000:.2f} ms",
        "time.perf_counter",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

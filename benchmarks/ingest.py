"""Ingest benchmark: the service against a bare Starlette endpoint, same machine, same run.

    python benchmarks/ingest.py [--duration 10] [--connections 32] [--database URL]

1. Ack rate and latency. Starts `infobip-events serve` on a fresh SQLite file (processor on,
   as in production) and a bare Starlette endpoint under the same uvicorn options, drives each
   with the same load of POSTs of a real SMS delivery report from a separate process (wrk when
   installed, else a Python load generator), and prints both rates, their ratio, and p50/p99
   ack latency.
3. Number Masking callbacks: the same load of callbacks that match a live session; each is
   stored, then answered with the session's instructions. Prints p50/p99 answer time.
2. Processor throughput: normalized results per second on 2,000-result buckets (the largest
   bucket Infobip sends), against a baseline that only decodes the same JSON and inserts one
   row per result into a scratch table (the floor of any processor on this disk).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import free_port, wait_up  # noqa: E402

FIXTURE = ROOT / "tests/fixtures/sms/dlr_v3_delivered_batch_of_2.json"


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd, env={**os.environ, **env}, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


# ---- load ---------------------------------------------------------------------------------------


def run_wrk(url: str, body: Path, connections: int, duration: int) -> dict[str, float]:
    script = body.parent / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [[{body.read_text()}]]\n"
    )
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)

    def pct(label: str) -> float:
        m = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out)
        assert m, out
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {
        "rate": rate,
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


LOADGEN = r"""
import asyncio, json, sys, time
import httpx
url, body = sys.argv[1], open(sys.argv[2], "rb").read()
conns, duration = int(sys.argv[3]), float(sys.argv[4])
lat, errors = [], 0
async def worker(client, stop_at):
    global errors
    while time.monotonic() < stop_at:
        t = time.perf_counter()
        r = await client.post(url, content=body, headers={"content-type": "application/json"})
        lat.append(time.perf_counter() - t)
        if r.status_code != 200: errors += 1
async def main():
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        stop_at = time.monotonic() + duration
        start = time.monotonic()
        await asyncio.gather(*(worker(client, stop_at) for _ in range(conns)))
        took = time.monotonic() - start
    lat.sort()
    print(json.dumps({"rate": len(lat) / took, "p50_ms": lat[len(lat) // 2] * 1000,
                      "p99_ms": lat[int(len(lat) * 0.99)] * 1000, "errors": errors}))
asyncio.run(main())
"""


def run_python_load(url: str, body: Path, connections: int, duration: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", LOADGEN, url, str(body), str(connections), str(duration)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(out))


def load(url: str, body: Path, connections: int, duration: int) -> dict[str, float]:
    if shutil.which("wrk"):
        return run_wrk(url, body, connections, duration)
    return run_python_load(url, body, connections, duration)


def ingest(args: argparse.Namespace, work: Path) -> None:
    body = work / "body.json"
    body.write_bytes(FIXTURE.read_bytes())
    masking_body = work / "masking.json"
    masking_body.write_bytes(
        (ROOT / "tests/fixtures/number-masking/callback_request.json").read_bytes()
    )
    uvicorn_opts = ["--no-access-log", "--log-level", "warning", "--timeout-keep-alive", "30"]
    results: dict[str, list[dict[str, float]]] = {"bare": [], "service": []}
    for round_no in range(args.rounds):
        for name in ("bare", "service"):
            port = free_port()
            if name == "bare":
                cmd = [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "benchmarks.bare_app:app",
                    "--port",
                    str(port),
                    *uvicorn_opts,
                ]
                env: dict[str, str] = {}
            else:
                db = work / f"ingest-{round_no}.db"
                cmd = [sys.executable, "-m", "events.cli", "serve", "--port", str(port)]
                env = {
                    "INFOBIP_EVENTS_DATABASE_URL": args.database or f"sqlite:///{db}",
                    "INFOBIP_EVENTS_LOG_LEVEL": "WARNING",
                }
            proc = start(cmd, env, work / f"{name}.log")
            url = f"http://127.0.0.1:{port}/webhooks/sms"
            try:
                wait_up(url, method="POST")
                load(url, body, args.connections, 2)  # warm up
                results[name].append(load(url, body, args.connections, args.duration))
                if name == "service" and not args.skip_masking:
                    results.setdefault("masking", []).append(masking_load(port, masking_body, args))
            finally:
                stop(proc)
    bare = {k: statistics.median(r[k] for r in results["bare"]) for k in results["bare"][0]}
    svc = {k: statistics.median(r[k] for r in results["service"]) for k in results["service"][0]}
    tool = "wrk" if shutil.which("wrk") else "python load generator"
    print(
        f"\n== ingest: {args.connections} connections, {args.duration}s x {args.rounds} rounds "
        f"({tool}), median of rounds =="
    )
    print(
        f"bare Starlette endpoint : {bare['rate']:9.0f} req/s  p50 {bare['p50_ms']:.2f} ms"
        f"  p99 {bare['p99_ms']:.2f} ms"
    )
    print(
        f"infobip-events (SQLite) : {svc['rate']:9.0f} req/s  p50 {svc['p50_ms']:.2f} ms"
        f"  p99 {svc['p99_ms']:.2f} ms  non-200: {svc['errors']:.0f}"
    )
    print(
        f"ratio service/bare      : {svc['rate'] / bare['rate']:.2f}x  (target >= 0.8x); "
        f"p99 ack {svc['p99_ms']:.1f} ms (target <= 20 ms)"
    )
    if results.get("masking"):
        m = {k: statistics.median(r[k] for r in results["masking"]) for k in results["masking"][0]}
        print(
            f"masking callbacks       : {m['rate']:9.0f} req/s  p50 {m['p50_ms']:.2f} ms"
            f"  p99 {m['p99_ms']:.2f} ms  non-200: {m['errors']:.0f}  (target p99 <= 20 ms)"
        )
        print(
            f"masking, 4 connections : {m['light_rate']:9.0f} req/s  p50 {m['light_p50_ms']:.2f} ms"
            f"  p99 {m['light_p99_ms']:.2f} ms"
        )


def masking_load(port: int, body: Path, args: argparse.Namespace) -> dict[str, float]:
    """Create the session the callbacks match, check one answer, then load the path."""
    import httpx

    base = f"http://127.0.0.1:{port}"
    doc = json.loads(body.read_bytes())
    session = httpx.post(
        f"{base}/v1/masking/sessions",
        json={"party_a": doc["from"], "party_b": "41700000001", "masking_number": doc["to"]},
    )
    session.raise_for_status()
    answer = httpx.post(
        f"{base}/webhooks/number-masking",
        content=body.read_bytes(),
        headers={"content-type": "application/json"},
    ).json()
    assert answer == {"phoneNumber": "41700000001", "callerId": doc["to"]}, answer
    url = f"{base}/webhooks/number-masking"
    load(url, body, args.connections, 2)
    saturated = load(url, body, args.connections, args.duration)
    light = load(url, body, 4, args.duration)
    return {**saturated, **{f"light_{k}": v for k, v in light.items()}}


# ---- processor ----------------------------------------------------------------------------------


def bucket(n: int, offset: int) -> bytes:
    item = json.loads(FIXTURE.read_bytes())["results"][0]
    results = []
    for i in range(n):
        r = dict(item)
        r["messageId"] = f"bench-{offset + i}"
        results.append(r)
    return json.dumps({"results": results}).encode()


def processor(args: argparse.Namespace, work: Path) -> None:
    from events.channels.body import carries_inbound
    from events.channels.registry import PARSERS
    from events.process import Processor
    from storage.db import make_engine, upgrade, write_transaction
    from storage.queries.raw import insert_raw, raw_row

    size, buckets = 2000, args.buckets
    bodies = [bucket(size, b * size) for b in range(buckets)]
    total = size * buckets

    # Baseline: decode the same JSON and insert one row per result, nothing else.
    base_db = work / "baseline.db"
    conn = sqlite3.connect(base_db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (message_id TEXT UNIQUE, status TEXT, body TEXT)")
    started = time.perf_counter()
    for body in bodies:
        conn.execute("BEGIN")
        rows = [
            (r["messageId"], r["status"]["name"], json.dumps(r))
            for r in json.loads(body)["results"]
        ]
        conn.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
        conn.execute("COMMIT")
    baseline = total / (time.perf_counter() - started)
    conn.close()

    targets = [("SQLite", f"sqlite:///{work / 'processor.db'}")]
    if args.database and args.database.startswith("postgres"):
        targets.append(("PostgreSQL", args.database))
    print(f"\n== processor: {buckets} buckets of {size} results ==")
    print(f"baseline (json.loads + executemany, SQLite): {baseline:9.0f} results/s")
    for label, url in targets:
        upgrade(url)
        engine = make_engine(url, sqlite_synchronous="FULL")
        with write_transaction(engine) as c:
            insert_raw(
                c,
                [
                    raw_row(
                        channel="sms",
                        body=b,
                        content_type="application/json",
                        headers={},
                        remote_addr=None,
                        inbound=carries_inbound(b, "application/json"),
                    )
                    for b in bodies
                ],
            )
        proc = Processor(engine, PARSERS, batch_size=1)
        started = time.perf_counter()
        done = 0
        while True:
            outcomes = proc.run_once()
            if not outcomes:
                break
            done += sum(o.items for o in outcomes)
        seconds = time.perf_counter() - started
        engine.dispose()
        assert done == total, (done, total)
        rate = total / seconds
        print(
            f"infobip-events processor ({label:10}): {rate:9.0f} results/s  "
            f"ratio to baseline {rate / baseline:.2f}x  (target >= 30,000 results/s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per load run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per target")
    parser.add_argument("--buckets", type=int, default=10, help="2,000-result buckets")
    parser.add_argument("--database", help="run against this database URL instead of SQLite")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-processor", action="store_true")
    parser.add_argument("--skip-masking", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="infobip-events-bench-") as tmp:
        work = Path(tmp)
        if not args.skip_ingest:
            ingest(args, work)
        if not args.skip_processor:
            processor(args, work)


if __name__ == "__main__":
    main()

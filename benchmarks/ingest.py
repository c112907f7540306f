"""Ingest benchmark: the service against baselines measured in the same run, on this machine.

    python benchmarks/ingest.py [--quick] [--duration 10] [--rounds 3] [--postgres URL]

Needs wrk (it refuses without it; --install-wrk installs it with apt-get when run as root).

1. Ack rate and latency (issue targets: >= 0.8x the bare endpoint, p99 <= 20 ms at 32
   connections). `infobip-events serve` on a fresh SQLite file, basic authentication on, its
   worker processing as in production, and a bare Starlette endpoint under the same uvicorn
   options (uvloop, httptools, one process, access log off), both loaded by wrk with POSTs of
   a real 2-result SMS delivery report; rounds alternate between the two.
2. Number Masking callbacks (target p99 <= 20 ms at 32 connections): callbacks that match a
   live session, each stored and answered with the session's instructions; the bare endpoint's
   p99 in the same round is the baseline.
3. Processor throughput on 2,000-result buckets (target >= 30,000 results/s), rules (a file
   of report and keyword rules) and opt-out compliance on, on SQLite and with --postgres on
   PostgreSQL, against the floor measured in the same run on the same database: decode the
   same JSON and insert one row per result into a scratch table (executemany).
4. Ten 2,000-result buckets posted at once to `serve` until all read back processed (target
   >= 30,000 results/s), against the same floor.
"""

from __future__ import annotations

import argparse
import base64
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402
    figure,
    free_port,
    require_wrk,
    run_wrk,
    start,
    stop,
    tree_memory,
    wait_up,
    wrk_script,
    wrk_version,
)

FIXTURE = ROOT / "tests/fixtures/sms/dlr_v3_delivered_batch_of_2.json"
MASKING = ROOT / "tests/fixtures/number-masking/callback_request.json"
USER, PASSWORD = "bench", "bench-password"
AUTH = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
# The uvicorn options `serve` runs its receiver with (events/cli/serve.py), for the baseline.
UVICORN = ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
UVICORN += ["--timeout-keep-alive", "30"]
RULES = """
[[rules]]
name = "tag failed reports"
when = { kind = "delivery", state = ["undeliverable", "rejected", "expired"] }
do = [{ type = "tag", tags = ["failed"] }]

[[rules]]
name = "keyword reply"
when = { kind = "inbound", first_word = ["info"] }
do = [{ type = "reply", text = "Thanks: {text}" }]
"""


def median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def serve_env(db_url: str, work: Path) -> dict[str, str]:
    rules = work / "rules.toml"
    rules.write_text(RULES)
    return {
        "INFOBIP_EVENTS_DATABASE_URL": db_url,
        "INFOBIP_EVENTS_LOG_LEVEL": "WARNING",
        "INFOBIP_EVENTS_WEBHOOK_USERNAME": USER,
        "INFOBIP_EVENTS_WEBHOOK_PASSWORD": PASSWORD,
        "INFOBIP_EVENTS_RULES_FILE": str(rules),
    }


def start_serve(db_url: str, work: Path, port: int, log: str = "serve.log") -> Any:
    cmd = [sys.executable, "-m", "events.cli", "serve", "--port", str(port)]
    proc = start(cmd, serve_env(db_url, work), work / log, cwd=ROOT)
    wait_up(f"http://127.0.0.1:{port}/healthz", proc=proc, timeout=120)
    return proc


def start_bare(work: Path, port: int) -> Any:
    cmd = [sys.executable, "-m", "uvicorn", "benchmarks.bare_app:app", "--port", str(port)]
    proc = start(cmd + UVICORN, {}, work / "bare.log", cwd=ROOT)
    wait_up(f"http://127.0.0.1:{port}/webhooks/sms", method="POST", proc=proc)
    return proc


# ---- 1 and 2: the ack and the masking answer ----------------------------------------------------


def ack(args: argparse.Namespace, work: Path, tool: str) -> None:
    report = wrk_script(work, FIXTURE.read_bytes(), {"Authorization": AUTH}, "report")
    masking = wrk_script(work, MASKING.read_bytes(), {"Authorization": AUTH}, "masking")
    runs: dict[str, list[dict[str, float]]] = {"bare": [], "service": [], "masking": []}
    for round_no in range(args.rounds):
        # Alternate which goes first: the machine's other load drifts.
        order = ("bare", "service") if round_no % 2 == 0 else ("service", "bare")
        for name in order:
            port = free_port()
            url = f"http://127.0.0.1:{port}/webhooks/sms"
            if name == "bare":
                proc = start_bare(work, port)
            else:
                proc = start_serve(f"sqlite:///{work / f'ack-{round_no}.db'}", work, port)
                time.sleep(1)  # the worker process starts after the receiver answers
            try:
                run_wrk(url, report, args.connections, 2)  # warm up
                runs[name].append(run_wrk(url, report, args.connections, args.duration))
                if name == "service":
                    runs["masking"].append(masking_load(port, masking, args))
            finally:
                stop(proc)
    bare, svc, mask = median(runs["bare"]), median(runs["service"]), median(runs["masking"])
    print(
        f"\n== ack: {args.connections} connections, {args.duration}s x {args.rounds} rounds, {tool}"
    )
    for label, r in (("bare Starlette endpoint", bare), ("serve (SQLite, basic auth)", svc)):
        print(
            f"{label:27}: {r['rate']:8.0f} req/s  p50 {r['p50_ms']:6.2f} ms  "
            f"p99 {r['p99_ms']:7.2f} ms  non-2xx {r['non2xx']:.0f}"
        )
    print(
        f"{'masking callbacks':27}: {mask['rate']:8.0f} req/s  p50 {mask['p50_ms']:6.2f} ms  "
        f"p99 {mask['p99_ms']:7.2f} ms  non-2xx {mask['non2xx']:.0f}"
    )
    ratio = svc["rate"] / bare["rate"]
    base = f"bare Starlette {bare['rate']:.0f} req/s, p99 {bare['p99_ms']:.1f} ms"
    figure(
        "ack rate, serve/bare (32 conn)",
        ">= 0.8x",
        f"{svc['rate']:.0f} req/s",
        ratio,
        base,
        tool,
        ratio >= 0.8,
    )
    figure(
        "ack p99 (32 conn)",
        "<= 20 ms",
        f"{svc['p99_ms']:.1f} ms",
        svc["p99_ms"] / bare["p99_ms"],
        base,
        tool,
        svc["p99_ms"] <= 20,
    )
    figure(
        "masking answer p99 (32 conn)",
        "<= 20 ms",
        f"{mask['p99_ms']:.1f} ms",
        mask["p99_ms"] / bare["p99_ms"],
        base,
        tool,
        mask["p99_ms"] <= 20,
    )


def masking_load(port: int, script: Path, args: argparse.Namespace) -> dict[str, float]:
    """Create the session the callbacks match, check one answer, then load the path."""
    import httpx

    base = f"http://127.0.0.1:{port}"
    doc = json.loads(MASKING.read_bytes())
    session = httpx.post(
        f"{base}/v1/masking/sessions",
        json={"party_a": doc["from"], "party_b": "41700000001", "masking_number": doc["to"]},
    )
    session.raise_for_status()
    answer = httpx.post(
        f"{base}/webhooks/number-masking",
        content=MASKING.read_bytes(),
        headers={"content-type": "application/json", "authorization": AUTH},
    ).json()
    if answer != {"phoneNumber": "41700000001", "callerId": doc["to"]}:
        raise SystemExit(f"the masking callback answered {answer!r}")
    url = f"{base}/webhooks/number-masking"
    run_wrk(url, script, args.connections, 2)
    return run_wrk(url, script, args.connections, args.duration)


# ---- 3 and 4: the processor ---------------------------------------------------------------------


def bucket(n: int, offset: int) -> bytes:
    item = json.loads(FIXTURE.read_bytes())["results"][0]
    results = []
    for i in range(n):
        r = dict(item)
        r["messageId"] = f"bench-{offset + i}"
        results.append(r)
    return json.dumps({"results": results}).encode()


def floor_rate(bodies: list[bytes], url: str) -> float:
    """Results/s of the least any processor does on this database: decode the JSON, insert
    one row per result (id, status, the item as JSON) with executemany, one commit a bucket."""
    total = sum(len(json.loads(b)["results"]) for b in bodies[:1]) * len(bodies)
    if url.startswith("sqlite"):
        conn: Any = sqlite3.connect(url.split(":///", 1)[1] + "-floor", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        mark, begin = "?", "BEGIN"
    else:
        import psycopg

        conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        conn.autocommit = True
        conn.execute("DROP TABLE IF EXISTS bench_floor")
        mark, begin = "%s", "BEGIN"
    conn.execute(
        "CREATE TABLE IF NOT EXISTS bench_floor (message_id TEXT UNIQUE, status TEXT, body TEXT)"
    )
    started = time.perf_counter()
    for body in bodies:
        conn.execute(begin)
        rows = [
            (r["messageId"], r["status"]["name"], json.dumps(r))
            for r in json.loads(body)["results"]
        ]
        cur = conn.cursor()
        cur.executemany(f"INSERT INTO bench_floor VALUES ({mark}, {mark}, {mark})", rows)
        conn.execute("COMMIT")
    rate = total / (time.perf_counter() - started)
    if not url.startswith("sqlite"):
        conn.execute("DROP TABLE bench_floor")
    conn.close()
    return rate


def processor_rate(bodies: list[bytes], url: str, work: Path) -> float:
    """Results/s of the processor as `worker` builds it (rules and compliance on)."""
    from events.channels.body import carries_inbound
    from events.config import Settings
    from events.services import build_processor
    from storage.db import make_engine, upgrade, write_transaction
    from storage.queries.raw import insert_raw, raw_row

    (work / "rules.toml").write_text(RULES)
    settings = Settings(database_url=url, rules_file=str(work / "rules.toml"), log_level="WARNING")
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
    proc = build_processor(settings, engine)
    proc.batch_size = 1  # one bucket a transaction, like the floor
    started = time.perf_counter()
    done = 0
    while outcomes := proc.run_once():
        done += sum(o.items for o in outcomes)
    seconds = time.perf_counter() - started
    engine.dispose()
    if done != 2000 * len(bodies):
        raise SystemExit(f"the processor read {done} results of {2000 * len(bodies)}")
    return done / seconds


def fresh_postgres(url: str, name: str) -> str:
    """A new empty database beside the one given, for one measurement."""
    from sqlalchemy import create_engine, text

    base, _, _ = url.rpartition("/")
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return f"{base}/{name}"


def processor(args: argparse.Namespace, work: Path) -> None:
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))  # warnings
    bodies = [bucket(2000, b * 2000) for b in range(args.buckets)]
    targets = [("SQLite", lambda i: f"sqlite:///{work / f'processor-{i}.db'}")]
    if args.postgres:
        targets.append(("PostgreSQL", lambda i: fresh_postgres(args.postgres, f"bench_proc_{i}")))
    for label, make_url in targets:
        runs = []
        for i in range(args.rounds):
            floor = floor_rate(bodies, make_url(f"f{i}"))
            rate = processor_rate(bodies, make_url(f"p{i}"), work)
            runs.append({"floor": floor, "rate": rate, "ratio": rate / floor})
        m = median(runs)
        print(
            f"\n== processor ({label}): {args.buckets} buckets of 2,000 results, rules and "
            f"compliance on, median of {args.rounds}"
        )
        print(f"floor (json + executemany): {m['floor']:9.0f} results/s")
        print(
            f"processor                 : {m['rate']:9.0f} results/s  ({m['ratio']:.2f}x the floor)"
        )
        figure(
            f"processor, 2,000-result buckets ({label})",
            ">= 30,000 results/s",
            f"{m['rate']:.0f} results/s",
            m["ratio"],
            f"floor {m['floor']:.0f} results/s",
            "time.perf_counter",
            m["rate"] >= 30_000,
        )


def burst(args: argparse.Namespace, work: Path) -> None:
    """Ten buckets posted at once to serve, until every result is read back processed."""
    count = 10
    bodies = [bucket(2000, 10_000_000 + b * 2000) for b in range(count)]
    runs = []
    for i in range(args.rounds):
        floor = floor_rate(bodies, f"sqlite:///{work / f'burst-floor-{i}.db'}")
        db = work / f"burst-{i}.db"
        port = free_port()
        proc = start_serve(f"sqlite:///{db}", work, port, log=f"burst-{i}.log")
        time.sleep(2)
        try:
            url = f"http://127.0.0.1:{port}/webhooks/sms"
            started = time.perf_counter()
            with ThreadPoolExecutor(count) as pool:
                answers = list(pool.map(post_bucket, [url] * count, bodies))
            if answers != [200] * count:
                raise SystemExit(f"the buckets were answered {answers}")
            wait_processed(db, count, deadline=started + 120)
            rate = 2000 * count / (time.perf_counter() - started)
            runs.append(
                {"floor": floor, "rate": rate, "ratio": rate / floor, **tree_memory(proc.pid)}
            )
        finally:
            stop(proc)
    m = median(runs)
    print(
        f"\n== ten 2,000-result buckets posted at once to serve (SQLite), median of {args.rounds}"
    )
    print(f"floor (json + executemany): {m['floor']:9.0f} results/s")
    print(f"posted until processed    : {m['rate']:9.0f} results/s  ({m['ratio']:.2f}x the floor)")
    figure(
        "10 buckets posted at once, until processed",
        ">= 30,000 results/s",
        f"{m['rate']:.0f} results/s",
        m["ratio"],
        f"floor {m['floor']:.0f} results/s",
        "httpx + time.perf_counter",
        m["rate"] >= 30_000,
    )


def post_bucket(url: str, body: bytes) -> int:
    import httpx

    headers = {"content-type": "application/json", "authorization": AUTH}
    return httpx.post(url, content=body, headers=headers, timeout=60).status_code


def wait_processed(db: Path, count: int, deadline: float) -> None:
    def pending() -> int:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute(
                "SELECT count(*) FROM raw_webhooks WHERE state = 'pending'"
            ).fetchone()
            return int(row[0])
        finally:
            conn.close()

    while (left := pending()) > 0:
        if time.perf_counter() > deadline:
            raise SystemExit(f"{left} of {count} buckets still pending after the deadline")
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="shorter runs, one round (run_all)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per load run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="rounds per figure (median)")
    parser.add_argument("--buckets", type=int, default=10, help="2,000-result buckets")
    parser.add_argument(
        "--postgres",
        help="also measure the processor on this PostgreSQL URL "
        "(fresh databases are created beside it)",
    )
    parser.add_argument(
        "--install-wrk",
        action="store_true",
        help="install wrk with apt-get when it is missing (as root)",
    )
    parser.add_argument(
        "--only",
        choices=["ack", "processor", "burst"],
        action="append",
        help="run only these parts (repeatable)",
    )
    args = parser.parse_args()
    if args.quick:
        args.duration, args.rounds, args.buckets = 5, 1, 5
    parts = args.only or ["ack", "processor", "burst"]
    tool = ""
    if "ack" in parts:
        require_wrk(args.install_wrk)
        tool = wrk_version() + f" -t2 -c{args.connections}"
    with tempfile.TemporaryDirectory(prefix="infobip-events-bench-") as tmp:
        work = Path(tmp)
        steps: dict[str, Callable[[], None]] = {
            "ack": lambda: ack(args, work, tool),
            "processor": lambda: processor(args, work),
            "burst": lambda: burst(args, work),
        }
        for part in parts:
            steps[part]()


if __name__ == "__main__":
    main()

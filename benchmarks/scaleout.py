"""PostgreSQL scale-out: receivers and workers as separate processes on one PostgreSQL.

    python benchmarks/scaleout.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/x
        [--quick] [--seconds 15] [--pending 1000000]

Fresh databases are created beside the one named (it is not touched). Three parts:
1. 1 receiver + 1 worker, then 2 receivers + 2 workers (`infobip-events receiver` and
   `worker`), each loaded by wrk (one wrk per receiver, 32 connections in all) with 2-result
   SMS delivery reports whose message ids are unique per request, then left to drain. Checked
   after each: every acknowledged webhook is a raw row (nothing lost), every raw row is
   processed with exactly its 2 events, and there are exactly 2 events and 2 messages per row
   (nothing doubled). Printed: ack rate, processing rate, 2+2 against 1+1.
2. The highest sustained rate at which the backlog stays flat: the workers' drain rate with
   nothing arriving (a rate above it makes the backlog grow), and the backlog left when the
   full-rate load stopped.
3. What a claim costs as the backlog grows: claim_raw (200 rows, FOR UPDATE SKIP LOCKED) with 1
   and with --pending rows pending (seeded with COPY), median of 20; the 1-row claim is the
   baseline.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402
    figure,
    free_port,
    require_wrk,
    start,
    stop,
    wait_up,
    wrk_version,
)
from benchmarks.ingest import AUTH, FIXTURE, fresh_postgres, serve_env  # noqa: E402

# Each request a new pair of message ids, so that a webhook processed twice would show.
UNIQUE = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "{auth}"
local f = io.open("{body}", "rb")
local template = f:read("*a")
f:close()
local counter = 0
local prefix = "{prefix}"
request = function()
  counter = counter + 1
  local id = prefix .. "-" .. tostring(math.random(1, 2^30)) .. "-" .. counter
  local body = template:gsub("MSGID", id)
  return wrk.format(nil, nil, nil, body)
end
"""


def template(work: Path) -> Path:
    """The fixture with its two message ids replaced by MSGID-0 and MSGID-1."""
    path = work / "template.json"
    path.write_text(template_text())
    return path


def counts(url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    queries = {
        # The reconciler's pull responses (source 'reconcile') are not the load's.
        "raw": "SELECT count(*) FROM raw_webhooks WHERE source = 'webhook'",
        "pending": "SELECT count(*) FROM raw_webhooks WHERE state = 'pending'",
        "processed": "SELECT count(*) FROM raw_webhooks WHERE state = 'processed' "
        "AND source = 'webhook'",
        "events": "SELECT count(*) FROM events",
        "distinct_events": "SELECT count(DISTINCT dedupe_key) FROM events",
        "messages": "SELECT count(*) FROM messages",
        "rows_not_2_events": "SELECT count(*) FROM (SELECT r.id FROM raw_webhooks r LEFT JOIN "
        "events e ON e.raw_id = r.id WHERE r.source = 'webhook' GROUP BY r.id "
        "HAVING count(e.id) <> 2) x",
    }
    with engine.connect() as conn:
        out = {k: int(conn.execute(text(q)).scalar() or 0) for k, q in queries.items()}
    engine.dispose()
    return out


def shape(args: argparse.Namespace, work: Path, receivers: int, workers: int) -> dict[str, Any]:
    url = fresh_postgres(args.postgres, f"bench_scale_{receivers}x{workers}")
    env = {**serve_env(url, work), "INFOBIP_EVENTS_LOG_FORMAT": "json"}
    cli = [sys.executable, "-m", "events.cli"]
    subprocess.run([*cli, "db", "upgrade"], env={**_environ(), **env}, cwd=ROOT, check=True)
    procs, ports = [], []
    try:
        for i in range(receivers):
            port = free_port()
            ports.append(port)
            procs.append(
                start(
                    [*cli, "receiver", "--port", str(port)],
                    env,
                    work / f"receiver-{receivers}x{workers}-{i}.log",
                    cwd=ROOT,
                )
            )
            wait_up(f"http://127.0.0.1:{port}/healthz", proc=procs[-1], timeout=120)
        for i in range(workers):
            procs.append(
                start(
                    [*cli, "worker"], env, work / f"worker-{receivers}x{workers}-{i}.log", cwd=ROOT
                )
            )
        time.sleep(3)
        body = template(work)
        loads = []
        started = time.perf_counter()
        for i, port in enumerate(ports):
            script = work / f"unique-{receivers}-{i}.lua"
            script.write_text(
                UNIQUE.replace("{auth}", AUTH)
                .replace("{body}", str(body))
                .replace("{prefix}", f"s{receivers}x{workers}r{i}")
            )
            loads.append(
                subprocess.Popen(
                    [
                        "wrk",
                        "-t1",
                        f"-c{32 // receivers}",
                        f"-d{args.seconds}s",
                        "-s",
                        str(script),
                        f"http://127.0.0.1:{port}/webhooks/sms",
                    ],
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        outs = [p.communicate()[0] for p in loads]
        load_seconds = time.perf_counter() - started
        backlog_at_stop = counts(url)["pending"]
        acked = sum(_requests(o) - _non2xx(o) for o in outs)
        while (left := counts(url)["pending"]) > 0:
            if time.perf_counter() - started > args.seconds + 300:
                raise SystemExit(f"{left} webhooks still pending 300 s after the load")
            time.sleep(0.2)
        total_seconds = time.perf_counter() - started
        found = counts(url)
        drain = drain_rate(url)
    finally:
        for proc in procs:
            stop(proc)
    return {
        "acked": acked,
        "ack_rate": acked / load_seconds,
        "processed_rate": 2 * found["processed"] / total_seconds,
        "backlog_at_stop": backlog_at_stop,
        "drain_rate": drain,
        **found,
    }


def seed(url: str, count: int, body: bytes | None, prefix: str) -> None:
    """count pending raw rows, written with COPY; body None: the template with unique ids."""
    import json

    import psycopg

    text = template_text()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        columns = "id, channel, received_at, content_type, body, headers, source, priority, "
        columns += "state, attempts"
        with conn.cursor().copy(f"COPY raw_webhooks ({columns}) FROM STDIN") as copy:
            for i in range(count):
                row_body = body if body is not None else text.replace("MSGID", f"{prefix}{i}")
                copy.write_row(
                    (
                        f"{prefix}{i:020d}",
                        "sms",
                        "now",
                        "application/json",
                        row_body.encode() if isinstance(row_body, str) else row_body,
                        json.dumps({}),
                        "webhook",
                        1,
                        "pending",
                        0,
                    )
                )


def template_text() -> str:
    import json

    doc = json.loads(FIXTURE.read_bytes())
    for i, item in enumerate(doc["results"]):
        item["messageId"] = f"MSGID-{i}"
    return json.dumps(doc)


def drain_rate(url: str) -> float:
    """Results/s the workers process with nothing arriving: seed 3,000 reports, then time."""
    seeded = 3000
    seed(url, seeded, None, "drain")
    started = time.perf_counter()
    while counts(url)["pending"] > 0 and time.perf_counter() - started < 300:
        time.sleep(0.1)
    return 2 * seeded / (time.perf_counter() - started)


def claim_times(args: argparse.Namespace) -> dict[str, float]:
    """Median ms of one claim_raw (a batch of up to 200 rows) with 1, 200 and args.pending
    rows pending. 200 pending is the baseline: the same batch claimed, only the backlog
    differs (1 pending claims one row, which costs less to read back)."""
    from storage.db import make_engine, upgrade
    from storage.queries.raw import claim_raw

    out = {}
    for label, pending in (("one", 1), ("batch", 200), ("many", args.pending)):
        url = fresh_postgres(args.postgres, f"bench_claim_{label}")
        upgrade(url)
        started = time.perf_counter()
        seed(url, pending, b'{"results":[]}', "c")
        print(
            f"   seeded {pending:,} pending rows in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        engine = make_engine(url)
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE raw_webhooks")
            conn.commit()
        times = []
        for _ in range(21):
            with engine.connect() as conn, conn.begin() as tx:
                t = time.perf_counter()
                rows = claim_raw(conn, 200, 5)
                times.append(time.perf_counter() - t)
                tx.rollback()
            if len(rows) != min(200, pending):
                raise SystemExit(f"claimed {len(rows)} rows of {pending}")
        engine.dispose()
        out[label] = statistics.median(times[1:]) * 1000
    return out


def _environ() -> dict[str, str]:
    return dict(os.environ)


def _requests(out: str) -> int:
    m = re.search(r"(\d+) requests in", out)
    return int(m.group(1)) if m else 0


def _non2xx(out: str) -> int:
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return int(m.group(1)) if m else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres", required=True, help="a PostgreSQL URL (see above)")
    parser.add_argument("--quick", action="store_true", help="8 s loads, 200,000 pending rows")
    parser.add_argument("--seconds", type=int, default=15, help="seconds of load per shape")
    parser.add_argument("--pending", type=int, default=1_000_000, help="rows for the claim time")
    parser.add_argument("--install-wrk", action="store_true", help="install wrk with apt-get")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.pending = 8, 200_000
    require_wrk(args.install_wrk)
    tool = f"{wrk_version()}, 32 connections in all"
    with tempfile.TemporaryDirectory(prefix="infobip-events-scaleout-") as tmp:
        work = Path(tmp)
        results = {}
        for receivers, workers in ((1, 1), (2, 2)):
            r = shape(args, work, receivers, workers)
            results[(receivers, workers)] = r
            print(
                f"\n== {receivers} receiver(s) + {workers} worker(s) on PostgreSQL, "
                f"{args.seconds} s of load =="
            )
            print(
                f"acked {r['acked']} webhooks ({r['ack_rate']:.0f}/s); processed "
                f"{r['processed_rate']:.0f} results/s until drained; backlog when the load "
                f"stopped {r['backlog_at_stop']}; drain with nothing arriving "
                f"{r['drain_rate']:.0f} results/s"
            )
            print(
                f"check: raw rows {r['raw']} (>= acked {r['acked']}), processed "
                f"{r['processed']}, events {r['events']} (distinct {r['distinct_events']}), "
                f"messages {r['messages']}, rows without exactly 2 events "
                f"{r['rows_not_2_events']}"
            )
            if r["raw"] < r["acked"] or r["rows_not_2_events"] or r["events"] != 2 * r["raw"]:
                raise SystemExit("LOST OR DOUBLED: see the check line above")
        one, two = results[(1, 1)], results[(2, 2)]
        base = f"1+1: {one['ack_rate']:.0f} acks/s, {one['processed_rate']:.0f} results/s"
        figure(
            "2+2 on PostgreSQL: acks/s",
            "more than 1+1",
            f"{two['ack_rate']:.0f} acks/s",
            two["ack_rate"] / one["ack_rate"],
            base,
            tool,
            two["ack_rate"] > one["ack_rate"],
        )
        figure(
            "2+2 on PostgreSQL: results processed/s",
            "more than 1+1",
            f"{two['processed_rate']:.0f} results/s",
            two["processed_rate"] / one["processed_rate"],
            base,
            tool,
            two["processed_rate"] > one["processed_rate"],
        )
        figure(
            "2+2: nothing lost or doubled",
            "0 lost, 0 doubled",
            "0 lost, 0 doubled",
            None,
            f"{two['acked']} acked, {two['raw']} rows, {two['events']} events",
            tool,
            True,
        )
        figure(
            "2+2: backlog-flat rate (drain, nothing arriving)",
            "measured",
            f"{two['drain_rate']:.0f} results/s",
            two["drain_rate"] / one["drain_rate"],
            f"1+1 drain {one['drain_rate']:.0f} results/s",
            "time.perf_counter",
            None,
        )
        claims = claim_times(args)
        print(
            f"\n== claim: {claims['one']:.2f} ms with 1 pending (1 row claimed), "
            f"{claims['batch']:.2f} ms with 200 pending, "
            f"{claims['many']:.2f} ms with {args.pending:,} pending (200 claimed)"
        )
        figure(
            f"claim time, {args.pending:,} pending",
            "flat with the backlog",
            f"{claims['many']:.2f} ms",
            claims["many"] / claims["batch"],
            f"200 pending: {claims['batch']:.2f} ms (1 pending: {claims['one']:.2f} ms)",
            "time.perf_counter, median of 20",
            claims["many"] / claims["batch"] < 2,
        )


if __name__ == "__main__":
    main()

"""Console page-time benchmark: every console page's answer time on a large database, on SQLite
and on PostgreSQL, against a baseline answered by the same server in the same run (GET
/healthz: no database work), and the target (500 ms).

    python benchmarks/console.py [--events 1000000] [--db sqlite|postgresql|both] [--rounds 7]

Seeds, in bulk (SQLite: executemany at driver level; PostgreSQL: COPY), `--events` events
over the last 30 days: 45 % outbound messages with a delivery report and a seen event each,
10 % inbound messages, one raw webhook per ten events (some failed, some pending), outbox
actions (some dead, some of unknown outcome), rule decisions, opt-outs with their audit trail
and reconcile runs. The server is the service's app under uvicorn on a free port (in this
process's thread, no workers); each page is asked for `--rounds` times after one warm-up with
httpx, and the median and the slowest answers are printed.

PostgreSQL: INFOBIP_EVENTS_BENCH_POSTGRES_URL (default: the local server, user postgres); a
fresh database is made and dropped.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import figure  # noqa: E402
from events.channels.status import STATUS_COLUMNS  # noqa: E402

TARGET_MS = 500.0
TOKEN = "bench-console-token-0123456789"
DAYS = 30
CHANNELS = ("sms", "sms", "sms", "whatsapp", "whatsapp", "email")
NUMBERS = 100_000
STATES = ("delivered",) * 8 + ("undeliverable", "expired", "rejected", "pending")
GROUPS = {"delivered": 3, "undeliverable": 2, "expired": 4, "rejected": 5, "pending": 1}


def number(i: int) -> str:
    return f"4179{i % NUMBERS:07d}"


class Seeder:
    """Rows for every table the console reads, written in bulk."""

    def __init__(self, engine: Any, events: int) -> None:
        self.engine = engine
        self.events = events
        self.now = datetime.now(UTC)
        self.start = self.now - timedelta(days=DAYS)

    def at(self, i: int, n: int) -> datetime:
        return self.start + timedelta(seconds=DAYS * 86400 * i / n)

    def raw_id(self, moment: datetime, i: int) -> str:
        return f"{int(moment.timestamp() * 1000):012x}{i:020x}"

    def write(self, table: Any, columns: Sequence[str], rows: Iterator[dict[str, Any]]) -> int:
        from storage.queries._sql import encode_rows

        count = 0
        with self.engine.begin() as conn:
            batch: list[list[object]] = []
            for values in encode_rows(conn, table, columns, rows):
                batch.append(values)
                if len(batch) == 20_000:
                    count += self._flush(conn, table.name, columns, batch)
                    batch = []
            count += self._flush(conn, table.name, columns, batch)
        return count

    def _flush(self, conn: Any, name: str, columns: Sequence[str], batch: list[Any]) -> int:
        if not batch:
            return 0
        if conn.dialect.name == "postgresql":
            cursor = conn.connection.cursor()
            with cursor.copy(f"COPY {name} ({','.join(columns)}) FROM STDIN") as copy:
                for values in batch:
                    copy.write_row(values)
            cursor.close()
        else:
            marks = ",".join("?" * len(columns))
            sql = f"INSERT INTO {name} ({','.join(columns)}) VALUES ({marks})"
            conn.exec_driver_sql(sql, [tuple(v) for v in batch])
        return len(batch)


STATUS = dict.fromkeys((*STATUS_COLUMNS, "price_amount", "price_currency"))


def message_plan(events: int) -> tuple[int, int]:
    """(outbound messages, inbound messages): two events per outbound, one per inbound."""
    inbound = events // 10
    return (events - inbound) // 2, inbound


def messages_rows(s: Seeder) -> Iterator[dict[str, Any]]:
    total = sum(message_plan(s.events))
    for i in range(total):
        created = s.at(i, total)
        is_in = i % 11 in (4, 10)  # 2/11 of the messages: the plan's inbound share
        state = "received" if is_in else STATES[i % len(STATES)]
        yield {
            **STATUS,
            "status_group_id": GROUPS.get(state),
            "status_group_name": state.upper(),
            "channel": CHANNELS[i % len(CHANNELS)],
            "message_id": f"m{i:08d}",
            "channel_uncertain": False,
            "action_id": None,
            "direction": "inbound" if is_in else "outbound",
            "state": state,
            "sender": number(i) if is_in else "InfoSMS",
            "recipient": "41790000000" if is_in else number(i),
            "bulk_id": None,
            "callback_data": None,
            "application_id": None,
            "entity_id": None,
            "sent_at": created,
            "done_at": created + timedelta(seconds=5),
            "seen_at": None,
            "created_at": created,
            "updated_at": created + timedelta(seconds=5),
        }


def events_rows(s: Seeder) -> Iterator[dict[str, Any]]:
    """Each message's events, in message order; one raw webhook per ten events."""
    n = 0
    for m in messages_rows(s):
        kinds = ("inbound",) if m["direction"] == "inbound" else ("delivery", "seen")
        for kind in kinds:
            received = m["created_at"] + timedelta(seconds=5 if kind == "delivery" else 60)
            raw_moment = s.at(n - n % 10, s.events)
            yield {
                **STATUS,
                "status_group_name": m["status_group_name"] if kind == "delivery" else None,
                "dedupe_key": f"k{n:010d}",
                "raw_id": s.raw_id(raw_moment, n - n % 10),
                "item_index": n % 10,
                "source": "webhook",
                "channel": m["channel"],
                "channel_uncertain": False,
                "kind": kind,
                "sub_type": None,
                "message_id": m["message_id"],
                "direction": m["direction"],
                "sender": m["sender"],
                "recipient": m["recipient"],
                "occurred_at": received,
                "received_at": received,
                "data": {"messageId": m["message_id"]},
                "note": None,
            }
            n += 1


def raw_rows(s: Seeder) -> Iterator[dict[str, Any]]:
    for n in range(0, s.events, 10):
        moment = s.at(n, s.events)
        state = "failed" if n % 10_000 == 0 else "processed"
        if n >= s.events - 500:
            state = "pending"
        yield {
            "id": s.raw_id(moment, n),
            "channel": CHANNELS[(n // 10) % len(CHANNELS)],
            "received_at": moment,
            "content_type": "application/json",
            "body": b'{"results": [{"messageId": "m%08d", "status": {"groupId": 3}}]}' % n,
            "headers": {"content-type": "application/json"},
            "remote_addr": "193.105.74.1",
            "source": "webhook",
            "priority": 1,
            "state": state,
            "attempts": 0 if state == "pending" else 1,
            "item_count": None if state == "pending" else 10,
            "error": "ValueError: no results" if state == "failed" else None,
            "processed_at": None if state == "pending" else moment,
        }


def action_rows(s: Seeder) -> Iterator[dict[str, Any]]:
    total = max(s.events // 20, 100)
    for i in range(total):
        created = s.at(i, total)
        state = "done"
        if i % 250 == 0:
            state = "dead"
        elif i % 1000 == 1:
            state = "unknown_outcome"
        elif i >= total - 100:
            state = "pending"
        yield {
            "id": s.raw_id(created, i),
            "idempotency_key": f"bench:{i}",
            "action": "send-sms-message",
            "channel": "sms",
            "input": {"to": "+" + number(i), "text": "Your code is ready"},
            "tracking_id": None,
            "state": state,
            "attempts": 6 if state == "dead" else 1,
            "max_attempts": 6,
            "next_attempt_at": created,
            "lease_until": None,
            "leased_by": None,
            "last_error": "Membrane answered 503" if state in ("dead", "unknown_outcome") else None,
            "output": {"messageId": f"m{i:08d}"} if state == "done" else None,
            "message_ids": None,
            "caused_by_event_id": None,
            "created_at": created,
            "updated_at": created,
        }


def decision_rows(s: Seeder) -> Iterator[dict[str, Any]]:
    total = s.events // 20
    for i in range(total):
        yield {
            "event_id": i * 20 + 1,
            "rule": "thank-on-delivery",
            "outcome": ("fired", "skipped", "suppressed")[i % 3],
            "reason": "quiet hours" if i % 3 == 1 else "matched",
            "contact": "+" + number(i),
            "digest": None,
            "actions": [],
            "not_before": None,
            "rules_version": "bench",
            "created_at": s.at(i, total),
        }


def optout_rows(s: Seeder) -> Iterator[dict[str, Any]]:
    for i in range(2000):
        yield {
            "channel": "sms",
            "contact": "+" + number(i * 37),
            "opted_out": True,
            "updated_at": s.at(i, 2000),
        }


def audit_rows(s: Seeder) -> Iterator[dict[str, Any]]:
    for i in range(5000):
        yield {
            "channel": "sms",
            "contact": "+" + number(i * 37 % 74_000),
            "action": ("opt_out", "refused", "opt_in")[i % 3],
            "source": "inbound",
            "message_id": f"m{i:08d}",
            "words": "STOP",
            "at": s.at(i, 5000),
        }


def run_rows(s: Seeder) -> Iterator[dict[str, Any]]:
    for i in range(500):
        started = s.at(i, 500)
        yield {
            "id": s.raw_id(started, i),
            "started_at": started,
            "finished_at": started + timedelta(seconds=30),
            "state": "done",
            "channel": None,
            "dry_run": False,
            "checked": 1000,
            "recovered": i % 7,
            "still_missing": i % 3,
            "discovered": 0,
            "closed": 10,
            "errors": 0,
            "error": None,
        }


def seed(engine: Any, events: int) -> None:
    from storage import models

    s = Seeder(engine, events)
    plan: list[tuple[Any, Callable[[Seeder], Iterator[dict[str, Any]]]]] = [
        (models.messages, messages_rows),
        (models.events, events_rows),
        (models.raw_webhooks, raw_rows),
        (models.outbox, action_rows),
        (models.rule_decisions, decision_rows),
        (models.opt_outs, optout_rows),
        (models.opt_out_audit, audit_rows),
        (models.reconcile_runs, run_rows),
    ]
    for table, rows in plan:
        started = time.perf_counter()
        generated = rows(s)
        first = next(generated)
        count = s.write(table, list(first), itertools.chain([first], generated))
        took = time.perf_counter() - started
        print(f"  seeded {table.name}: {count:,} rows in {took:.1f}s", file=sys.stderr)
    analyze(engine)


def analyze(engine: Any) -> None:
    """Fresh planner statistics, as autovacuum (PostgreSQL) or a periodic ANALYZE would keep."""
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


# ---- timing -----------------------------------------------------------------------------------


def pages(engine: Any) -> list[str]:
    from sqlalchemy import text

    with engine.connect() as conn:
        raw_id = conn.execute(text("SELECT max(id) FROM raw_webhooks")).scalar()
        middle = conn.execute(text("SELECT count(*) / 2 FROM messages")).scalar()
        channel, mid = conn.execute(
            text("SELECT channel, message_id FROM messages WHERE id = :id"), {"id": middle}
        ).one()
    return [
        "/console/",
        "/console/?window=1h",
        "/console/?window=6h",
        "/console/?window=48h",
        "/console/webhooks",
        "/console/webhooks?state=failed",
        "/console/webhooks?channel=email&since=2h",
        "/console/webhooks?state=processed&channel=whatsapp&since=7d&until=6d",
        f"/console/webhooks/{raw_id}",
        f"/console/messages?q={mid}",
        "/console/messages?q=%2B41790012345",
        f"/console/messages/{channel}/{mid}",
        "/console/actions",
        "/console/actions?state=dead",
        "/console/actions?state=done",
        "/console/dead-letters",
        "/console/opt-outs",
        "/console/opt-outs?contact=%2B41790000037",
        "/console/reconcile",
    ]


def serve(settings: Any, engine: Any) -> tuple[Any, threading.Thread, str]:
    import uvicorn

    from benchmarks.common import free_port
    from events.api.app import create_app

    app = create_app(settings, engine=engine, run_processor=False, auto_migrate=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def timed(client: Any, path: str, rounds: int) -> tuple[float, float]:
    """(median, max) in ms of `rounds` answers after a warm-up; every answer must be 200."""
    client.get(path)
    times: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"{path} answered {answer.status_code}: {answer.text[:300]}")
    return statistics.median(times), max(times)


def log_in(client: Any) -> None:
    page = client.get("/console/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    client.post("/console/login", data={"csrf": csrf.group(1), "token": TOKEN})


def measure(url: str, engine: Any, rounds: int) -> list[tuple[str, float, float]]:
    import httpx
    from pydantic import SecretStr

    from events.config import Settings

    settings = Settings(database_url=url, api_token=SecretStr(TOKEN), _env_file=None)
    server, thread, base = serve(settings, engine)
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            log_in(client)
            out = [("/healthz (baseline)", *timed(client, "/healthz", rounds))]
            out += [(path, *timed(client, path, rounds)) for path in pages(engine)]
    finally:
        server.should_exit = True
        thread.join(10)
    return out


def report(name: str, rows: list[tuple[str, float, float]], rounds: int) -> bool:
    baseline = rows[0][1]
    print(f"\n{name}: median and slowest of the answers, ms (target {TARGET_MS:g} ms)")
    print(f"{'page':<70} {'median':>8} {'max':>8} {'x base':>8}")
    ok = True
    for path, median, slowest in rows:
        ratio = median / baseline if baseline else float("nan")
        flag = "" if slowest < TARGET_MS else "  OVER TARGET"
        ok = ok and slowest < TARGET_MS
        print(f"{path:<70} {median:8.1f} {slowest:8.1f} {ratio:8.1f}{flag}")
    # The headline: the slowest answer of any page (what the target is about), against the
    # slowest answer of /healthz from the same server.
    _, _, base_slowest = rows[0]
    path, _, worst = max(rows[1:], key=lambda row: row[2])
    figure(
        f"console slowest page, {name}",
        f"< {TARGET_MS:g} ms",
        f"{worst:.1f} ms ({path})",
        worst / base_slowest if base_slowest else None,
        f"/healthz {base_slowest:.1f} ms (slowest of {rounds})",
        "httpx, time.perf_counter",
        ok,
    )
    return ok


# ---- databases --------------------------------------------------------------------------------


def on_sqlite(events: int, rounds: int, folder: Path, reuse: bool) -> bool:
    from storage.db import make_engine, upgrade

    path = folder / f"console-bench-{events}.db"
    url = f"sqlite:///{path}"
    if not (reuse and path.exists()):
        path.unlink(missing_ok=True)
        upgrade(url)
        seed(make_engine(url, sqlite_synchronous="OFF"), events)
    engine = make_engine(url)
    return report(f"SQLite, {events:,} events", measure(url, engine, rounds), rounds)


def on_postgresql(events: int, rounds: int) -> bool:
    import psycopg

    from storage.db import make_engine, upgrade

    admin = os.environ.get(
        "INFOBIP_EVENTS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    name = f"console_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    try:
        upgrade(url)
        engine = make_engine(url)
        seed(engine, events)
        ok = report(f"PostgreSQL, {events:,} events", measure(url, engine, rounds), rounds)
        engine.dispose()
        return ok
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events to seed")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=7, help="timed requests per page")
    parser.add_argument(
        "--dir", type=Path, default=ROOT / "benchmarks" / "results", help="the SQLite file's folder"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="time the SQLite file seeded by an earlier run"
    )
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    print("tool: httpx against uvicorn (this process), time.perf_counter per request")
    ok = True
    if args.db in ("sqlite", "both"):
        ok = on_sqlite(args.events, args.rounds, args.dir, args.reuse) and ok
    if args.db in ("postgresql", "both"):
        ok = on_postgresql(args.events, args.rounds) and ok
    print("\nevery page under the target" if ok else "\nSOME PAGES OVER THE TARGET")


if __name__ == "__main__":
    main()

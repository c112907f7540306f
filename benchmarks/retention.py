"""Retention and erasure benchmark, on SQLite, timed with time.perf_counter in one run.

    python benchmarks/retention.py [--webhooks 400] [--results 100]

Stores and processes WEBHOOKS delivery-report batches of RESULTS results each (one result in a
hundred goes to the contact that is then erased), then on two copies of the same database:

- pruning the processed raw webhooks, 1,000 rows per transaction, against a baseline that
  deletes them in one statement: the total time of each, and the longest single transaction
  (how long the receiver could wait for the write lock) against the one statement's;
- `forget` of the contact (every table searched, its rows deleted, mentions redacted), against
  a baseline that only reads every text column of every table once.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import figure  # noqa: E402

CONTACT = "+41791000011"


def report(number: int, results: int) -> bytes:
    items = []
    for i in range(results):
        to = CONTACT[1:] if (number * results + i) % 100 == 0 else f"4179{number:04d}{i:03d}"
        items.append(
            {
                "messageId": f"m-{number}-{i}",
                "to": to,
                "sentAt": "2026-11-09T16:00:00.000+0000",
                "doneAt": "2026-11-09T16:00:01.000+0000",
                "status": {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED"},
                "error": {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR"},
            }
        )
    return json.dumps({"results": items}).encode()


def seed(url: str, webhooks: int, results: int) -> None:
    from events.channels.registry import PARSERS
    from events.process import Processor
    from storage.db import make_engine, upgrade, write_transaction
    from storage.queries.raw import insert_raw, raw_row

    upgrade(url)
    engine = make_engine(url, sqlite_synchronous="NORMAL")
    rows = [
        raw_row(
            channel="sms",
            body=report(n, results),
            content_type="application/json",
            headers={},
            remote_addr=None,
            inbound=False,
        )
        for n in range(webhooks)
    ]
    with write_transaction(engine) as conn:
        insert_raw(conn, rows)
    processor = Processor(engine, PARSERS, batch_size=50)
    while processor.run_once():
        pass
    engine.dispose()


def timed_prune(url: str) -> tuple[float, float]:
    """(total seconds, longest transaction) of the batched prune."""
    from events import retention
    from storage.db import make_engine, write_transaction
    from storage.queries.retention import RAW, delete_older

    engine = make_engine(url, sqlite_synchronous="NORMAL")
    cutoff = datetime.now(UTC) + timedelta(days=1)
    longest, after, started = 0.0, None, time.perf_counter()
    while True:
        begun = time.perf_counter()
        with write_transaction(engine) as conn:
            deleted, after = delete_older(conn, RAW, cutoff, after, retention.BATCH)
        longest = max(longest, time.perf_counter() - begun)
        if after is None or deleted < retention.BATCH:
            break
    engine.dispose()
    return time.perf_counter() - started, longest


def timed_single_delete(url: str) -> float:
    from sqlalchemy import delete

    from storage.db import make_engine, write_transaction
    from storage.models import raw_webhooks

    engine = make_engine(url, sqlite_synchronous="NORMAL")
    started = time.perf_counter()
    with write_transaction(engine) as conn:
        conn.execute(delete(raw_webhooks).where(raw_webhooks.c.state == "processed"))
    engine.dispose()
    return time.perf_counter() - started


def timed_forget(url: str) -> tuple[float, int]:
    from events.erasure import ErasureKey
    from events.forget import forget
    from storage.db import make_engine

    engine = make_engine(url, sqlite_synchronous="NORMAL")
    started = time.perf_counter()
    done = forget(engine, ErasureKey.of("benchmark-key-0123456789"), CONTACT, actor="bench")
    engine.dispose()
    return time.perf_counter() - started, done.total


def timed_read_all(url: str) -> float:
    from sqlalchemy import select

    from storage.db import make_engine
    from storage.queries.erasure import searched_tables, text_columns

    engine = make_engine(url, sqlite_synchronous="NORMAL")
    started = time.perf_counter()
    with engine.connect() as conn:
        for table in searched_tables():
            columns = [table.c[c] for c in text_columns(table)]
            if columns:
                for _ in conn.execute(select(*columns)):
                    pass
    engine.dispose()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--webhooks", type=int, default=400)
    parser.add_argument("--results", type=int, default=100)
    args = parser.parse_args()
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base.db"
        seed(f"sqlite:///{base}", args.webhooks, args.results)
        copies = {}
        for name in ("prune", "single", "forget", "read"):
            copies[name] = Path(tmp) / f"{name}.db"
            shutil.copy(base, copies[name])
        total, longest = timed_prune(f"sqlite:///{copies['prune']}")
        single = timed_single_delete(f"sqlite:///{copies['single']}")
        events = args.webhooks * args.results
        print(
            f"prune {args.webhooks} raw webhooks ({events} events): batched {total:.3f}s, "
            f"one statement {single:.3f}s, ratio {total / single:.2f}"
        )
        print(
            f"longest write transaction: batched {longest * 1000:.1f} ms, one statement "
            f"{single * 1000:.1f} ms, ratio {longest / single:.2f}"
        )
        figure(
            "prune: longest write transaction (SQLite)",
            "none (the receiver waits at most this long)",
            f"{longest * 1000:.1f} ms",
            longest / single,
            f"one DELETE of everything {single * 1000:.1f} ms",
            "time.perf_counter",
        )
        seconds, rows = timed_forget(f"sqlite:///{copies['forget']}")
        read = timed_read_all(f"sqlite:///{copies['read']}")
        print(
            f"forget over {events} events: {seconds:.3f}s ({rows} rows erased); reading every "
            f"text column once {read:.3f}s; ratio {seconds / read:.2f}"
        )
        figure(
            f"contacts forget over {events:,} events (SQLite)",
            "none",
            f"{seconds:.3f} s ({rows} rows erased)",
            seconds / read,
            f"reading every text column once {read:.3f} s",
            "time.perf_counter",
        )


if __name__ == "__main__":
    main()

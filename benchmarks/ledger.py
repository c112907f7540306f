"""Cost ledger benchmark: what the ledger (and the own-number marks) add to the processor.

    python benchmarks/ledger.py [--reports 20000] [--per-body 100]

The same priced SMS delivery reports are processed in one run, each time into a fresh SQLite
database, three times each way, alternating: by a processor whose bookkeeping does nothing
(the baseline), and with the ledger upserted every batch (its number cache emptied first).
Figures are reports a second of this process's CPU time (time.process_time) and the ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def bodies(reports: int, per_body: int) -> list[bytes]:
    out = []
    for start in range(0, reports, per_body):
        items = [
            {
                "messageId": f"m-{i}",
                "to": f"4179{i:07d}",
                "sender": "InfoSMS",
                "doneAt": "2026-12-01T10:00:00.000+0000",
                "messageCount": 1 + i % 3,
                "price": {"pricePerMessage": 0.0075, "currency": "EUR"},
                "status": {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED"},
                "platform": {"applicationId": "app", "entityId": "ent"},
            }
            for i in range(start, min(start + per_body, reports))
        ]
        out.append(json.dumps({"results": items}).encode())
    return out


def run(url: str, payloads: list[bytes], bookkeeping: Any) -> float:
    """CPU seconds to process every payload from the raw inbox."""
    from events.channels.registry import PARSERS
    from events.process import Processor
    from storage.db import make_engine, upgrade, write_transaction
    from storage.queries.raw import insert_raw, raw_row

    upgrade(url)
    engine = make_engine(url, sqlite_synchronous="NORMAL")
    rows = [
        raw_row(
            channel="sms",
            body=b,
            content_type="application/json",
            headers={},
            remote_addr=None,
            inbound=False,
        )
        for b in payloads
    ]
    with write_transaction(engine) as conn:
        insert_raw(conn, rows)
    processor = Processor(engine, PARSERS, batch_size=20, bookkeeping=bookkeeping)
    # CPU time of this process: the machine is shared, and wall time measures the neighbours.
    started = time.process_time()
    while processor.run_once():
        pass
    seconds = time.process_time() - started
    engine.dispose()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--per-body", type=int, default=100)
    args = parser.parse_args()

    import structlog

    from events.bookkeeping import Bookkeeping
    from events.channels.event import ParsedEvent
    from events.costs import region_of

    class NoBookkeeping(Bookkeeping):
        def mark(self, conn: Any, events: Sequence[ParsedEvent]) -> int:
            return 0

        def record(self, conn: Any, new_events: Any, now: datetime) -> int:
            return 0

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    payloads = bodies(args.reports, args.per_body)
    with tempfile.TemporaryDirectory() as tmp:
        # Imports and caches warm up first; then each side twice, alternating, best of three.
        run(f"sqlite:///{Path(tmp) / 'warm.db'}", bodies(500, args.per_body), Bookkeeping())
        times: dict[str, list[float]] = {"base": [], "ledger": []}
        for turn in range(3):
            times["base"].append(
                run(f"sqlite:///{Path(tmp) / f'base{turn}.db'}", payloads, NoBookkeeping())
            )
            region_of.cache_clear()  # every report a number the ledger has not seen
            times["ledger"].append(
                run(f"sqlite:///{Path(tmp) / f'ledger{turn}.db'}", payloads, Bookkeeping())
            )
        base, ledger = min(times["base"]), min(times["ledger"])
    print(
        f"{datetime.now(UTC).isoformat()} SQLite, {args.reports} priced reports, time.process_time"
    )
    print(f"baseline (no ledger): {args.reports / base:,.0f} reports/s")
    print(f"with the ledger:      {args.reports / ledger:,.0f} reports/s")
    print(f"ratio ledger/baseline time: {ledger / base:.2f}")
    from benchmarks.common import figure

    figure(
        "processor with the cost ledger (SQLite, priced reports)",
        "none",
        f"{args.reports / ledger:,.0f} reports/s",
        base / ledger,
        f"ledger switched off {args.reports / base:,.0f} reports/s",
        "time.process_time, best of 3",
    )


if __name__ == "__main__":
    main()

"""What making items storable (events/storable.py) costs the processor, per result.

    python benchmarks/storable.py [--rounds 20]

Times, with time.perf_counter over the same 2,000-result SMS delivery report in the same run:
the channel parser alone (the baseline: bytes to events), then storable_event over every
event it gave (the fast path: nothing to change), then over events that each carry one bad
value (the slow path, a copy per event). Prints microseconds per result and the ratio to the
parser. At the processor's target of 30,000 results a second a result has 33 us in all.

Then the processor itself on SQLite (2,000-result buckets, as in benchmarks/ingest.py), with the
storable pass and with it switched off, alternating, in the same run: the ratio is its cost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import events.process  # noqa: E402
from benchmarks.common import figure  # noqa: E402
from events.channels.registry import PARSERS  # noqa: E402
from events.logs import configure_logging  # noqa: E402
from events.storable import storable_event  # noqa: E402
from storage.db import make_engine, upgrade, write_transaction  # noqa: E402
from storage.queries.raw import insert_raw, raw_row  # noqa: E402

FIXTURE = ROOT / "tests/fixtures/sms/dlr_v3_delivered_batch_of_2.json"
SIZE = 2000


def bucket(bad: bool) -> bytes:
    item = json.loads(FIXTURE.read_bytes())["results"][0]
    text = json.dumps({"results": [{**item, "messageId": f"b-{i}"} for i in range(SIZE)]})
    if bad:  # every item: a count beyond 64 bits and a lone surrogate in the sender
        text = text.replace('"messageCount": 1', f'"messageCount": {2**70}')
        text = text.replace('"sender": "InfoSMS"', '"sender": "Info\\ud800SMS"')
    return text.encode()


def best(rounds: int, work: Callable[[], object]) -> float:
    """Median seconds of one call over rounds (after one warm-up)."""
    work()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    configure_logging("WARNING", "console")  # not one line per webhook
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="timings of the pass alone")
    parser.add_argument("--processor-rounds", type=int, default=3)
    parser.add_argument("--buckets", type=int, default=5, help="2,000-result buckets a round")
    args = parser.parse_args()
    parse = PARSERS["sms"]
    good, bad = bucket(False), bucket(True)
    clean_events = parse(good, "application/json").events
    bad_events = parse(bad, "application/json").events
    assert all(storable_event(e) is e for e in clean_events)
    assert all(storable_event(e) is not e for e in bad_events)

    parsing = best(args.rounds, lambda: parse(good, "application/json"))
    fast = best(args.rounds, lambda: [storable_event(e) for e in clean_events])
    slow = best(args.rounds, lambda: [storable_event(e) for e in bad_events])
    per = 1e6 / SIZE
    print(f"== storable_event on {SIZE}-result SMS reports (time.perf_counter, median) ==")
    print(f"parser alone (baseline)     {parsing * per:6.2f} us/result")
    print(
        f"storable, nothing to change {fast * per:6.2f} us/result  "
        f"ratio to the parser {fast / parsing:.2f}x"
    )
    print(
        f"storable, one bad value     {slow * per:6.2f} us/result  "
        f"ratio to the parser {slow / parsing:.2f}x"
    )
    # No target of its own: at the processor's 30,000 results/s a result has 33 us in all.
    base = f"SMS parser alone {parsing * per:.2f} us/result"
    figure(
        "storable pass, nothing to change",
        "none",
        f"{fast * per:.2f} us/result",
        fast / parsing,
        base,
        "time.perf_counter",
    )
    figure(
        "storable pass, one bad value a result",
        "none",
        f"{slow * per:.2f} us/result",
        slow / parsing,
        base,
        "time.perf_counter",
    )
    processor_ab(args.processor_rounds, args.buckets)


def _identity(event: object) -> object:
    return event


def processor_rate(work: str, buckets: int, storable: bool) -> float:
    """Results a second the processor normalizes, on a fresh SQLite file."""
    url = f"sqlite:///{tempfile.mkdtemp(dir=work)}/p.db"
    upgrade(url)
    engine = make_engine(url)
    rows = []
    for b in range(buckets):
        body = bucket(False).replace(b'"b-', f'"p{b}-'.encode())
        rows.append(
            raw_row(
                channel="sms",
                body=body,
                content_type="application/json",
                headers={},
                remote_addr=None,
                inbound=False,
            )
        )
    with write_transaction(engine) as conn:
        insert_raw(conn, rows)
    # The processor's reference swapped for the run (a benchmark may; the service never does).
    setattr(events.process, "storable_event", storable_event if storable else _identity)  # noqa: B010
    processor = events.process.Processor(engine, PARSERS, batch_size=1)
    started = time.perf_counter()
    done = sum(o.items for _ in range(buckets) for o in processor.run_once())
    seconds = time.perf_counter() - started
    setattr(events.process, "storable_event", storable_event)  # noqa: B010
    engine.dispose()
    assert done == buckets * SIZE
    return done / seconds


def processor_ab(rounds: int, buckets: int) -> None:
    with_pass, without = [], []
    with tempfile.TemporaryDirectory() as work:
        for _ in range(rounds):
            without.append(processor_rate(work, buckets, storable=False))
            with_pass.append(processor_rate(work, buckets, storable=True))
    a, b = statistics.median(without), statistics.median(with_pass)
    print(f"== processor, SQLite, {buckets} buckets of {SIZE}, {rounds} alternating rounds ==")
    print(f"storable pass off (baseline) {a:8.0f} results/s")
    print(f"storable pass on             {b:8.0f} results/s  ratio to baseline {b / a:.2f}x")
    figure(
        f"processor with the storable pass (SQLite, {SIZE}-result buckets)",
        "none",
        f"{b:,.0f} results/s ({1e6 / b - 1e6 / a:+.2f} us/result)",
        b / a,
        f"pass switched off {a:,.0f} results/s",
        "time.perf_counter",
    )


if __name__ == "__main__":
    main()

"""Reconciliation benchmark: N stale SMS messages recovered through the fake Membrane HTTP API
at 100 ms a call (Infobip's logs return 1,000 items a call; calls paced at 120 a minute).

    python benchmarks/reconcile.py [--messages 10000] [--latency 0.1]

The baseline, measured in the same run, is the floor of any reconciler: the same calls, made
back to back, with nothing stored or processed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import FAKE_AUTH, figure, free_port, wait_up  # noqa: E402

SERVER = """
import sys, uvicorn
from tests.fakes.membrane import FakeMembrane, Knobs
from tests.fakes.membrane_api import fake_api
membrane = FakeMembrane(knobs=Knobs(latency=float(sys.argv[2])))
for i in range(int(sys.argv[3])):
    membrane.infobip.send("sms", f"4179{i:07d}", {"messageId": f"stale-{i}"})
uvicorn.run(fake_api(membrane), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False)
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()

    import structlog

    from events.channels.registry import PARSERS
    from events.config import Settings
    from events.membrane.catalogue import ACTIONS
    from events.membrane.http_transport import HttpClient
    from events.process import Processor
    from events.reconcile import BATCH, LOGS, Pacer, Reconciler
    from events.services import build_compliance
    from events.states import MessageState
    from storage.db import make_engine, upgrade, write_transaction
    from storage.queries.messages import insert_new_messages

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), str(args.latency), str(args.messages)], cwd=ROOT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(f"{url}/connections", headers=FAKE_AUTH, proc=server)
        client = HttpClient(url, "con_fake", token="pat-fake", timeout=60)
        ids = [f"stale-{i}" for i in range(args.messages)]

        # Baseline: the logs calls alone, paced the same way, nothing stored or processed.
        pacer = Pacer()
        started = time.perf_counter()
        for start in range(0, len(ids), BATCH):
            pacer.wait(LOGS["sms"])
            client.run_action("get-sms-message-logs", {"messageId": ids[start : start + BATCH]})
        baseline = time.perf_counter() - started

        with tempfile.TemporaryDirectory() as tmp:
            db = f"sqlite:///{tmp}/reconcile.db"
            upgrade(db)
            engine = make_engine(db)
            sent = datetime.now(UTC) - timedelta(minutes=30)
            rows = [
                MessageState(
                    channel="sms", message_id=i, direction="outbound", state="unknown"
                ).row(sent, sent)
                for i in ids
            ]
            with write_transaction(engine) as conn:
                insert_new_messages(conn, rows)
            processor = Processor(
                engine, PARSERS, compliance=build_compliance(Settings(_env_file=None))
            )  # type: ignore[call-arg]
            reconciler = Reconciler(engine, client, dict(ACTIONS), processor)
            started = time.perf_counter()
            report = reconciler.run(channel="sms")
            took = time.perf_counter() - started
            engine.dispose()
    finally:
        server.terminate()
        server.wait(10)
    assert report is not None
    print(
        f"\n== reconcile: {args.messages} stale SMS, fake Membrane at "
        f"{args.latency * 1000:.0f} ms a call, logs paced at {LOGS['sms'].per_minute}/min =="
    )
    print(f"baseline (the logs calls alone)  : {baseline:6.1f} s")
    print(
        f"reconcile run (store + process)  : {took:6.1f} s  ratio {took / baseline:.2f}x  "
        f"(target <= 30 s)"
    )
    figure(
        f"reconcile {args.messages} stale SMS",
        "<= 30 s",
        f"{took:.1f} s",
        took / baseline,
        f"the logs calls alone {baseline:.1f} s",
        "time.perf_counter",
        took <= 30,
    )
    print(
        f"checked {report.checked}, recovered {report.recovered}, still missing "
        f"{report.still_missing}, discovered {report.discovered}, errors {report.errors}"
    )


if __name__ == "__main__":
    main()

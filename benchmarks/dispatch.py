"""Dispatcher benchmark: outbox -> fake Membrane HTTP API at 50 ms a call, against a baseline of
the same calls made straight from a thread pool (no outbox, no database), same run.

    python benchmarks/dispatch.py [--actions 3000] [--concurrency 64] [--latency 0.05]

Also measures the per-call cost of the CLI transport (a process per call) against spawning a
bare Python that does nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import FAKE_AUTH, figure, free_port, wait_up  # noqa: E402

SERVER = """
import sys, uvicorn
from tests.fakes.membrane import FakeMembrane, Knobs
from tests.fakes.membrane_api import fake_api
uvicorn.run(fake_api(FakeMembrane(knobs=Knobs(latency=float(sys.argv[2])))), host="127.0.0.1",
            port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--actions", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--cli-calls", type=int, default=20)
    args = parser.parse_args()

    import structlog

    from events.dispatch import Dispatcher
    from events.membrane.catalogue import ACTIONS
    from events.membrane.cli_transport import CliClient
    from events.membrane.http_transport import HttpClient
    from events.outbox import enqueue
    from storage.db import make_engine, upgrade, write_transaction
    from storage.models import outbox

    # One log line per action is right in production, noise in a benchmark.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), str(args.latency)], cwd=ROOT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(f"{url}/connections", headers=FAKE_AUTH, proc=server)

        # Baseline: the same action, straight from a thread pool.
        client = HttpClient(url, "con_fake", token="pat-fake", max_connections=args.concurrency)
        body = {"to": "41793026727", "text": "hello"}
        with ThreadPoolExecutor(args.concurrency) as pool:  # warm up the server and the pool
            list(
                pool.map(
                    lambda _: client.run_action("preview-sms-message", {"text": "x"}),
                    range(args.concurrency * 4),
                )
            )
        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(
                pool.map(lambda _: client.run_action("send-sms-message", body), range(args.actions))
            )
        baseline = args.actions / (time.perf_counter() - started)

        with tempfile.TemporaryDirectory() as tmp:
            db = f"sqlite:///{tmp}/dispatch.db"
            upgrade(db)
            engine = make_engine(db, pool_size=8)
            with write_transaction(engine) as conn:
                for i in range(args.actions):
                    enqueue(
                        conn,
                        ACTIONS,
                        "send-sms-message",
                        {"to": f"4179{i:07d}", "text": "hello"},
                        idempotency_key=f"b{i}",
                    )
            dispatcher = Dispatcher(
                engine,
                HttpClient(url, "con_fake", token="pat-fake", max_connections=args.concurrency),
                dict(ACTIONS),
                concurrency=args.concurrency,
                idle_seconds=0.05,
            )
            started = time.perf_counter()
            thread = threading.Thread(target=dispatcher.run_forever, daemon=True)
            thread.start()
            while True:
                with engine.connect() as conn:
                    left = conn.execute(
                        outbox.select().where(outbox.c.state != "done").limit(1)
                    ).first()
                if left is None:
                    break
                time.sleep(0.02)
            rate = args.actions / (time.perf_counter() - started)
            dispatcher.stop()
            engine.dispose()
    finally:
        server.terminate()
        server.wait(10)

    print(
        f"\n== dispatcher: {args.actions} sends, fake Membrane at {args.latency * 1000:.0f} ms "
        f"a call, concurrency {args.concurrency} =="
    )
    print(f"baseline (thread pool, no outbox) : {baseline:8.0f} actions/s")
    print(
        f"outbox + dispatcher (SQLite)      : {rate:8.0f} actions/s  ratio {rate / baseline:.2f}x"
        f"  (target >= 500 actions/s)"
    )
    figure(
        f"dispatcher, fake Membrane at {args.latency * 1000:.0f} ms",
        ">= 500 actions/s",
        f"{rate:.0f} actions/s",
        rate / baseline,
        f"thread pool without outbox {baseline:.0f} actions/s",
        "time.perf_counter",
        rate >= 500,
    )

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "FAKE_MEMBRANE_STATE": f"{tmp}/state.json"}
        cli = CliClient(str(ROOT / "tests/fakes/membrane_cli.py"), "con_fake", env=env)
        started = time.perf_counter()
        for _ in range(args.cli_calls):
            cli.run_action("preview-sms-message", {"text": "hi"})
        per_call = (time.perf_counter() - started) / args.cli_calls
        started = time.perf_counter()
        for _ in range(args.cli_calls):
            subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare = (time.perf_counter() - started) / args.cli_calls
    print(f"\n== CLI transport: {args.cli_calls} calls to the fake membrane executable ==")
    print(f"bare `python -c pass` spawn       : {bare * 1000:8.1f} ms")
    print(
        f"CliClient.run_action              : {per_call * 1000:8.1f} ms  "
        f"ratio {per_call / bare:.1f}x (the real CLI loads Node: >= 0.8 s a call, docs/membrane.md)"
    )


if __name__ == "__main__":
    main()

"""Inbound-to-Membrane latency, end to end: inbound SMS webhooks at a steady rate into
`infobip-events serve` (SQLite, a keyword rule that replies), through the raw inbox, the
processor, the rules, the outbox and the dispatcher, to the fake HTTP Membrane, which notes when
each reply arrives. Against a baseline measured in the same run: a bare Starlette endpoint that
calls the same fake Membrane straight from the request (no inbox, no database, no outbox).

    python benchmarks/rules_latency.py [--rate 200] [--seconds 20]

Target: p99 <= 200 ms at 200 inbound/s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import figure, free_port, wait_up  # noqa: E402

# The fake Membrane, noting when each send arrives (and its text, which names the inbound).
FAKE = """
import sys, time, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from tests.fakes.membrane import FakeInfobip, FakeMembrane, Knobs
from tests.fakes.membrane_api import fake_api
arrivals = []
class Noting(FakeInfobip):
    def send(self, channel, to, fields):
        arrivals.append((time.time(), fields.get("text")))
        return super().send(channel, to, fields)
membrane = FakeMembrane(infobip=Noting(), knobs=Knobs(latency=float(sys.argv[2])))
async def noted(request):
    return JSONResponse(arrivals)
app = Starlette(routes=[Route("/_arrivals", noted), Mount("/", fake_api(membrane))])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""

# The baseline: take the webhook and call Membrane from inside the request.
BARE = """
import sys, httpx, uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
client = httpx.AsyncClient(headers={"Authorization": "Bearer pat-fake"})
url = sys.argv[2] + "/actions/send-sms-message/run?connectionId=con_fake"
async def hook(request: Request) -> Response:
    doc = await request.json()
    for item in doc["results"]:
        await client.post(url, json={"input": {"to": item["from"], "from": item["to"],
                                               "text": "ack " + item["messageId"]}})
    return Response('{"id":"0"}', 200, media_type="application/json")
app = Starlette(routes=[Route("/webhooks/{channel}", hook, methods=["POST"])])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""

RULES = """
[[rules]]
name = "prices"
when = { channel = "sms", kind = "inbound", first_word = ["price"] }
do = [{ type = "reply", text = "ack {message_id}" }]
"""


def inbound(message_id: str) -> bytes:
    return json.dumps(
        {
            "results": [
                {
                    "messageId": message_id,
                    "from": "41793026727",
                    "to": "447860099299",
                    "text": "PRICE please",
                    "receivedAt": "2026-11-27T10:00:00.000+0000",
                }
            ]
        }
    ).encode()


def drive(url: str, fake: str, prefix: str, rate: float, seconds: float) -> list[float]:
    """Post at a steady rate (open loop: a late answer does not slow the sender), then wait
    for every reply at the fake; latencies in seconds."""
    import httpx

    count = int(rate * seconds)
    sent: dict[str, float] = {}
    lock = threading.Lock()
    errors = []

    def post(i: int) -> None:
        message_id = f"{prefix}-{i}"
        with lock:
            sent[message_id] = time.time()
        try:
            reply = client.post(
                f"{url}/webhooks/sms",
                content=inbound(message_id),
                headers={"content-type": "application/json"},
            )
            if reply.status_code != 200:
                errors.append(reply.status_code)
        except httpx.HTTPError as exc:
            errors.append(str(exc))

    client = httpx.Client(timeout=10, limits=httpx.Limits(max_connections=64))
    from concurrent.futures import ThreadPoolExecutor

    start = time.perf_counter()
    with ThreadPoolExecutor(32) as pool:
        for i in range(count):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(post, i)
    if errors:
        print(f"  {len(errors)} webhooks not acked: {errors[:3]}")
    deadline = time.time() + 30
    arrivals: dict[str, float] = {}
    while time.time() < deadline:
        for at, text in httpx.get(f"{fake}/_arrivals", timeout=10).json():
            if isinstance(text, str) and text.startswith(f"ack {prefix}-"):
                arrivals.setdefault(text[4:], at)
        if len(arrivals) >= count:
            break
        time.sleep(0.5)
    missing = count - len(arrivals)
    if missing:
        print(f"  {missing} replies never reached Membrane within 30 s")
    return sorted(arrivals[m] - sent[m] for m in arrivals if m in sent)


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=200.0, help="inbound webhooks a second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--latency", type=float, default=0.0, help="the fake's seconds a call")
    parser.add_argument(
        "--split",
        action="store_true",
        help="`receiver` + `worker` processes instead of one `serve` (the scale-out shape)",
    )
    args = parser.parse_args()

    procs: list[subprocess.Popen[bytes]] = []
    work = Path(tempfile.mkdtemp(prefix="rules-latency-"))  # kept: serve.log, events.db
    try:
        fake_port = free_port()
        fake = f"http://127.0.0.1:{fake_port}"
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", FAKE, str(fake_port), str(args.latency)], cwd=ROOT
            )
        )
        wait_up(f"{fake}/_arrivals", proc=procs[-1])

        bare_port = free_port()
        procs.append(subprocess.Popen([sys.executable, "-c", BARE, str(bare_port), fake], cwd=ROOT))
        wait_up(f"http://127.0.0.1:{bare_port}/", proc=procs[-1])

        rules = work / "rules.toml"
        rules.write_text(RULES)
        port = free_port()
        env = {
            **os.environ,
            "INFOBIP_EVENTS_DATABASE_URL": f"sqlite:///{work}/events.db",
            "INFOBIP_EVENTS_PORT": str(port),
            "INFOBIP_EVENTS_RULES_FILE": str(rules),
            "INFOBIP_EVENTS_MEMBRANE_TRANSPORT": "http",
            "INFOBIP_EVENTS_MEMBRANE_API_URL": fake,
            "INFOBIP_EVENTS_MEMBRANE_TOKEN": "pat-fake",
            "INFOBIP_EVENTS_MEMBRANE_CONNECTION_ID": "con_fake",
            "INFOBIP_EVENTS_LOG_LEVEL": "WARNING",
            "INFOBIP_EVENTS_LOG_FORMAT": "json",
        }
        commands = [["receiver"], ["worker"]] if args.split else [["serve"]]
        if args.split:
            # The receiver does not migrate a database by itself; serve does on SQLite.
            subprocess.run(
                [sys.executable, "-m", "events.cli", "db", "upgrade"],
                cwd=ROOT,
                env=env,
                check=True,
            )
        with (work / "serve.log").open("wb") as log:
            for command in commands:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "events.cli", *command],
                        cwd=ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        url = f"http://127.0.0.1:{port}"
        wait_up(f"{url}/healthz", proc=procs[-len(commands)])

        shape = "receiver + worker" if args.split else "serve"
        print(
            f"{args.rate:.0f} inbound/s for {args.seconds:.0f} s into `{shape}` on SQLite; "
            f"fake Membrane at {args.latency * 1000:.0f} ms a call"
        )
        # Each is warmed up (connection pools, caches) right before it is measured.
        drive(url, fake, "warm", args.rate, 3)
        ours = drive(url, fake, "ie", args.rate, args.seconds)
        drive(f"http://127.0.0.1:{bare_port}", fake, "warmb", args.rate, 3)
        bare = drive(f"http://127.0.0.1:{bare_port}", fake, "bare", args.rate, args.seconds)
        for name, values in (
            ("baseline (bare endpoint calling Membrane)", bare),
            ("infobip-events (inbox, rules, outbox)", ours),
        ):
            print(
                f"{name}: n={len(values)} p50 {pct(values, 0.5):.1f} ms, "
                f"p99 {pct(values, 0.99):.1f} ms, max {values[-1] * 1000:.1f} ms"
            )
        ratio = pct(ours, 0.99) / max(pct(bare, 0.99), 0.001)
        verdict = "met" if pct(ours, 0.99) <= 200 else "missed"
        print(f"p99 ratio {ratio:.1f}x the baseline; target p99 <= 200 ms: {verdict}")
        figure(
            f"inbound to Membrane p99 at {args.rate:.0f}/s",
            "<= 200 ms",
            f"{pct(ours, 0.99):.1f} ms",
            ratio,
            f"bare endpoint calling Membrane, p99 {pct(bare, 0.99):.1f} ms",
            "threaded poster + fake Membrane's arrival times",
            pct(ours, 0.99) <= 200,
        )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()

"""Memory benchmark: the whole `serve` process tree (supervisor, receiver, workers), idle and
under full load, against the bare Starlette endpoint under the same load in the same run.

    python benchmarks/memory.py [--quick] [--seconds 20] [--install-wrk]

Target (issues 14 and 15): the tree stays <= 200 MB RSS under full load, and 4 MB bodies of
2,000 results do not make it spike. Two sums are printed, sampled every 0.2 s: RSS (pages the
processes share counted once per process, what `ps` adds up to) and PSS (each shared page
divided among its users: the fairer total). Loads, each with wrk:
  reports  - 32 connections posting a real 2-result SMS delivery report;
  buckets  - 4 connections posting a 4 MB body of 2,000 results (each a few hundred messages'
             worth of reports), the largest bucket Infobip sends, processed as they come.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402
    figure,
    free_port,
    require_wrk,
    run_wrk,
    stop,
    tree_memory,
    wrk_script,
    wrk_version,
)
from benchmarks.ingest import AUTH, FIXTURE, start_bare, start_serve  # noqa: E402

TARGET_MB = 200.0


def big_bucket(offset: int = 0, size: int = 4 * 1024 * 1024) -> bytes:
    """2,000 results padding to `size` bytes through their callbackData (which Infobip echoes
    back, up to 4,000 characters)."""
    item = json.loads(FIXTURE.read_bytes())["results"][0]
    base = len(json.dumps({"results": [item] * 2000}))
    pad = max(0, (size - base) // 2000 - 20)
    results = []
    for i in range(2000):
        r = dict(item)
        r["messageId"] = f"mem-{offset + i}"
        r["callbackData"] = "x" * pad
        results.append(r)
    return json.dumps({"results": results}).encode()


class Sampler:
    """Samples a process tree's memory every `every` seconds in a thread; keeps the peaks."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        self.pid = pid
        self.every = every
        self.peak = {"rss_mb": 0.0, "pss_mb": 0.0}
        self.by_role: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            roles: dict[str, float] = {}
            now = tree_memory(self.pid, roles)
            for key in self.peak:
                self.peak[key] = max(self.peak[key], now[key])
            for name, mb in roles.items():
                self.by_role[name] = max(self.by_role.get(name, 0.0), mb)
            self._stop.wait(self.every)


def measure(
    args: argparse.Namespace, work: Path, roles: dict[str, dict[str, float]]
) -> dict[str, float]:
    """The tree's peaks under each load; `roles` gets each process's own peak RSS per load."""
    reports = wrk_script(work, FIXTURE.read_bytes(), {"Authorization": AUTH}, "report")
    buckets = wrk_script(work, big_bucket(), {"Authorization": AUTH}, "bucket")
    out: dict[str, float] = {}
    port = free_port()
    proc = start_bare(work, port)
    try:
        url = f"http://127.0.0.1:{port}/webhooks/sms"
        with Sampler(proc.pid) as bare:
            run_wrk(url, reports, 32, args.seconds)
        out["bare_rss"] = bare.peak["rss_mb"]
        out["bare_pss"] = bare.peak["pss_mb"]
    finally:
        stop(proc)
    port = free_port()
    proc = start_serve(f"sqlite:///{work / 'memory.db'}", work, port, log="memory-serve.log")
    try:
        time.sleep(3)  # the workers start after the receiver answers
        roles["idle"] = {}
        idle = tree_memory(proc.pid, roles["idle"])
        out["processes"] = idle["processes"]
        out["idle_rss"], out["idle_pss"] = idle["rss_mb"], idle["pss_mb"]
        url = f"http://127.0.0.1:{port}/webhooks/sms"
        with Sampler(proc.pid) as loaded:
            out["reports_rate"] = run_wrk(url, reports, 32, args.seconds)["rate"]
        out["reports_rss"], out["reports_pss"] = loaded.peak["rss_mb"], loaded.peak["pss_mb"]
        roles["reports"] = loaded.by_role
        with Sampler(proc.pid) as big:
            got = run_wrk(url, buckets, 4, args.seconds, threads=1)
        out["buckets_rate"] = got["rate"]
        out["buckets_non2xx"] = got["non2xx"]
        out["buckets_rss"], out["buckets_pss"] = big.peak["rss_mb"], big.peak["pss_mb"]
        roles["buckets"] = big.by_role
        time.sleep(2)
        after = tree_memory(proc.pid)
        out["after_rss"], out["after_pss"] = after["rss_mb"], after["pss_mb"]
    finally:
        stop(proc)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="8 s per load (run_all)")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per load")
    parser.add_argument("--install-wrk", action="store_true", help="install wrk with apt-get")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 8.0
    require_wrk(args.install_wrk)
    tool = f"{wrk_version()}, /proc/*/smaps_rollup every 0.2 s"
    with tempfile.TemporaryDirectory(prefix="infobip-events-memory-") as tmp:
        roles: dict[str, dict[str, float]] = {}
        m = measure(args, Path(tmp), roles)
    print(f"\n== memory of the serve tree ({m['processes']:.0f} processes), peak MB ==")
    print(f"{'':34}{'RSS':>8}{'PSS':>8}")
    print(f"{'bare endpoint, 2-result reports':34}{m['bare_rss']:8.1f}{m['bare_pss']:8.1f}")
    print(f"{'serve idle':34}{m['idle_rss']:8.1f}{m['idle_pss']:8.1f}")
    rate = m["reports_rate"]
    print(f"{f'serve, reports ({rate:.0f}/s)':34}{m['reports_rss']:8.1f}{m['reports_pss']:8.1f}")
    label = f"serve, 4 MB buckets ({m['buckets_rate']:.1f}/s)"
    print(f"{label:34}{m['buckets_rss']:8.1f}{m['buckets_pss']:8.1f}")
    print(f"{'serve, 2 s after the load':34}{m['after_rss']:8.1f}{m['after_pss']:8.1f}")
    print("peak RSS of each process (MB; the sum of the peaks can exceed the tree's peak):")
    for load, peaks in roles.items():
        print(f"  {load:8}" + "".join(f"{k:>12} {v:6.1f}" for k, v in sorted(peaks.items())))
    if m["buckets_non2xx"]:
        print(f"  ({m['buckets_non2xx']:.0f} bucket posts were not answered 2xx)")
    base = f"bare endpoint {m['bare_rss']:.0f} MB RSS / {m['bare_pss']:.0f} MB PSS"
    peak = max(m["reports_rss"], m["buckets_rss"])
    for name, rss, pss in (
        ("serve tree idle", m["idle_rss"], m["idle_pss"]),
        (
            "serve tree peak, full load + 4 MB buckets",
            peak,
            max(m["reports_pss"], m["buckets_pss"]),
        ),
    ):
        figure(
            name,
            f"<= {TARGET_MB:.0f} MB RSS",
            f"{rss:.0f} MB RSS / {pss:.0f} MB PSS",
            rss / m["bare_rss"],
            base,
            tool,
            rss <= TARGET_MB,
        )


if __name__ == "__main__":
    main()

"""Every benchmark, one table: figure, target, measured, ratio to its same-run baseline, tool.

    python benchmarks/run_all.py [--full] [--postgres URL] [--install-wrk] [--only NAME ...]

By default each benchmark runs in its quick form (shorter loads, one round: about twelve
minutes on a 2-core machine); --full runs each as its own defaults do (medians of several rounds).
Each benchmark prints its figures as FIGURE lines (benchmarks/common.py); this collects them.
The machine's other load is printed with the table: on a shared machine the absolute figures
move with it, the ratios to a baseline measured in the same run much less.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import FIGURE_PREFIX, require_wrk  # noqa: E402

# name: (script, quick arguments, full arguments)
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "ingest": ("ingest.py", ["--quick"], []),
    "memory": ("memory.py", ["--quick"], []),
    "scaleout": ("scaleout.py", ["--quick"], []),
    "dispatch": ("dispatch.py", ["--actions", "1000", "--cli-calls", "5"], []),
    "reconcile": ("reconcile.py", ["--messages", "2000"], []),
    "rules": ("rules.py", ["--events", "50000"], []),
    "rules_latency": ("rules_latency.py", ["--seconds", "8"], []),
    "optout": ("optout.py", ["--rounds", "3"], []),
    "ledger": ("ledger.py", ["--reports", "10000"], []),
    # Enough raw rows for several prune batches of 1,000: the longest transaction is the figure.
    "retention": ("retention.py", ["--webhooks", "5000", "--results", "10"], []),
    "metrics_overhead": ("metrics_overhead.py", ["--duration", "5", "--rounds", "2"], []),
    "console": ("console.py", ["--events", "500000", "--rounds", "5"], []),
    "storable": ("storable.py", ["--rounds", "10", "--buckets", "3"], []),
    "on_demand": ("on_demand.py", [], []),
}
NEEDS_WRK = {"ingest", "memory", "scaleout", "metrics_overhead"}
NEEDS_POSTGRES = {"scaleout"}


def run(name: str, args: argparse.Namespace) -> tuple[list[dict[str, Any]], str | None]:
    """The figures a benchmark printed, and what went wrong if it failed."""
    script, quick, full = BENCHMARKS[name]
    argv = [sys.executable, str(ROOT / "benchmarks" / script), *(full if args.full else quick)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if args.postgres and name in ("ingest", "scaleout"):
        argv += ["--postgres", args.postgres]
    if name == "console":
        # SQLite always; PostgreSQL too with --postgres (console.py makes and drops a database
        # of its own through the server at INFOBIP_EVENTS_BENCH_POSTGRES_URL, a psycopg URL).
        argv += ["--db", "both" if args.postgres else "sqlite"]
        if args.postgres:
            env["INFOBIP_EVENTS_BENCH_POSTGRES_URL"] = re.sub(
                r"^postgresql\+\w+://", "postgresql://", args.postgres
            )
    print(f"-- {name}: {' '.join(argv[1:])}", flush=True)
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    log = Path(args.logs) / f"{name}.log"
    log.write_text(proc.stdout + proc.stderr)
    figures = [
        json.loads(line[len(FIGURE_PREFIX) :])
        for line in proc.stdout.splitlines()
        if line.startswith(FIGURE_PREFIX)
    ]
    took = time.monotonic() - started
    print(f"   {len(figures)} figures in {took:.0f} s (output: {log})", flush=True)
    if not figures and proc.returncode == 0:
        print(f"   {name} printed no FIGURE lines: nothing of it in the table", flush=True)
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return figures, f"exited {proc.returncode}: {last[0]}"
    return figures, None


def table(rows: list[dict[str, Any]]) -> str:
    head = ["figure", "target", "measured", "ratio", "baseline (same run)", "tool", "met"]
    body = [
        [
            r["name"],
            r["target"],
            r["measured"],
            "" if r["ratio"] is None else f"{r['ratio']:.2f}x",
            r["baseline"],
            r["tool"],
            {True: "yes", False: "NO", None: ""}[r["met"]],
        ]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=False)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="each benchmark's full defaults")
    parser.add_argument(
        "--postgres",
        help="a PostgreSQL URL (postgresql+psycopg://...): the processor and the console pages "
        "there too, and the scale-out benchmark (skipped without it)",
    )
    parser.add_argument("--install-wrk", action="store_true", help="install wrk with apt-get")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="repeatable")
    parser.add_argument(
        "--logs",
        default=tempfile.mkdtemp(prefix="infobip-events-benchmarks-"),
        help="folder for each one's output (default: a new temporary folder)",
    )
    args = parser.parse_args()
    names = args.only or list(BENCHMARKS)
    if NEEDS_WRK & set(names):
        require_wrk(args.install_wrk)
    Path(args.logs).mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    failures: list[str] = []
    load_before = os.getloadavg()
    for name in names:
        if name in NEEDS_POSTGRES and not args.postgres:
            print(f"-- {name}: skipped (needs --postgres URL)")
            continue
        figures, failed = run(name, args)
        rows += figures
        if failed:
            failures.append(f"{name}: {failed}")
    load_after = os.getloadavg()
    print()
    print(table(rows))
    print(
        f"\nmachine: {os.cpu_count()} cores, load average {load_before[0]:.1f} before and "
        f"{load_after[0]:.1f} after; {'full' if args.full else 'quick'} runs"
    )
    for failure in failures:
        print(f"FAILED {failure}")
    missed = [r["name"] for r in rows if r["met"] is False]
    if missed:
        print(f"targets missed: {len(missed)} of {len(rows)}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

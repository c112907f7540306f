"""What the benchmarks share: a free local port, and waiting for a server they started."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    proc: subprocess.Popen[bytes] | None = None,
    timeout: float = 30.0,
) -> None:
    """Return once `url` answers at all (any status); exit if the process died or time ran out."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the server for {url} exited")
        try:
            httpx.request(
                method, url, headers=headers, content=b"{}" if method == "POST" else None, timeout=1
            )
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


# The fake Membrane's token, for waiting on its API.
FAKE_AUTH = {"Authorization": "Bearer pat-fake"}


# ---- the load tool ------------------------------------------------------------------------------


def require_wrk(install: bool = False) -> str:
    """wrk's path. Without it: install it with apt when allowed (--install-wrk, as root), else
    stop with what to do. The figures in these benchmarks are wrk's; a Python load generator
    would measure itself as much as the server."""
    found = shutil.which("wrk")
    if found:
        return found
    if install and os.geteuid() == 0:
        print("wrk is missing: installing it with apt-get (--install-wrk)", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=False)
        if not shutil.which("wrk"):
            subprocess.run(["apt-get", "update"], check=False)
            subprocess.run(["apt-get", "install", "-y", "wrk"], check=True)
        return str(shutil.which("wrk"))
    raise SystemExit(
        "this benchmark needs wrk, the HTTP load tool, and it is not installed. Install it "
        "(Debian/Ubuntu: `apt-get install -y wrk`; macOS: `brew install wrk`), or rerun as root "
        "with --install-wrk to have it installed with apt-get."
    )


def wrk_version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    first = (out.stdout or out.stderr).strip().splitlines()
    return first[0].split(" [")[0] if first else "wrk"


def wrk_script(
    work: Path, body: bytes, headers: dict[str, str] | None = None, name: str = "post"
) -> Path:
    """A wrk script that POSTs this body with these headers."""
    lines = ['wrk.method = "POST"']
    for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
        lines.append(f'wrk.headers["{key}"] = "{value}"')
    (work / f"{name}.body").write_bytes(body)
    lines.append(f'local f = io.open("{work / (name + ".body")}", "rb")')
    lines.append("wrk.body = f:read('*a')")
    lines.append("f:close()")
    script = work / f"{name}.lua"
    script.write_text("\n".join(lines) + "\n")
    return script


def run_wrk(
    url: str, script: Path, connections: int, seconds: float, threads: int = 2
) -> dict[str, float]:
    """wrk -t2 -cN -dS --latency: rate, p50/p99 in ms, non-2xx answers and socket errors."""
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if rate is None or total is None:
        raise SystemExit(f"wrk printed no rate:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)

    def pct(label: str) -> float:
        m = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)\b", out)
        if m is None:
            raise SystemExit(f"wrk printed no {label}th percentile:\n{out}")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {
        "rate": float(rate.group(1)),
        "requests": float(total.group(1)),
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
        "non2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "socket_errors": float(sum(int(g) for g in errors.groups())) if errors else 0.0,
    }


# ---- processes ----------------------------------------------------------------------------------


def start(
    cmd: list[str], env: dict[str, str], log: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=cwd,
    )


def stop(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM (serve drains in order), then SIGKILL."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tree(pid: int) -> list[int]:
    """pid and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def role(pid: int) -> str:
    """What a process of the serve tree is, from its command line: supervisor, receiver or
    worker (several workers count as one role)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    words = [a.decode(errors="replace") for a in argv]
    for name in ("supervisor", "receiver", "worker"):
        if any(name in w for w in words):
            return name
    return "other"


def tree_memory(pid: int, by_role: dict[str, float] | None = None) -> dict[str, float]:
    """The process tree's memory in MB: the sum of its processes' RSS (counts pages they
    share once per process) and of their PSS (shares each page among its users: fairer).
    With `by_role`, each role's RSS (see `role`) is written there too, from the same read."""
    rss = pss = 0
    count = 0
    for member in tree(pid):
        try:
            text = Path(f"/proc/{member}/smaps_rollup").read_text()
        except OSError:
            continue
        count += 1
        own = 0
        for line in text.splitlines():
            if line.startswith("Rss:"):
                own = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss += int(line.split()[1])
        rss += own
        if by_role is not None:
            name = role(member)
            by_role[name] = by_role.get(name, 0.0) + own / 1024
    return {"rss_mb": rss / 1024, "pss_mb": pss / 1024, "processes": float(count)}


# ---- the figures every benchmark prints, for run_all.py -----------------------------------------

FIGURE_PREFIX = "FIGURE "


def figure(
    name: str,
    target: str,
    measured: str,
    ratio: float | None,
    baseline: str,
    tool: str,
    met: bool | None = None,
) -> None:
    """One figure as a line benchmarks/run_all.py collects: what, its target, the measured
    value, its ratio to the baseline measured in the same run (and what that baseline was),
    the tool, and whether the target was met."""
    doc = {
        "name": name,
        "target": target,
        "measured": measured,
        "ratio": ratio,
        "baseline": baseline,
        "tool": tool,
        "met": met,
    }
    print(FIGURE_PREFIX + json.dumps(doc), flush=True)

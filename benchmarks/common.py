"""What the benchmarks share: a free local port, and waiting for a server they started."""

from __future__ import annotations

import socket
import subprocess
import time


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

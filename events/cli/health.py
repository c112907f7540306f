"""health: is what runs here healthy (for container health checks)."""

from __future__ import annotations

import argparse
from typing import Any

from events.health import add_arguments, run


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "health",
        help="is the receiver here ready and the workers' heartbeat fresh (exit 0 or 1)",
        description="Check the receiver's /readyz on INFOBIP_EVENTS_PORT (database reachable, "
        "schema current) and the workers' heartbeat file (INFOBIP_EVENTS_HEARTBEAT_FILE, younger "
        "than INFOBIP_EVENTS_HEARTBEAT_MAX_AGE_SECONDS). With neither --receiver nor --worker, "
        "what runs here is checked: the receiver when something answers on the port, the "
        "workers when their heartbeat file exists; at least one must. Prints one line per "
        "check; exits 0 when healthy, 1 when not. `python -m events.health` is the same check "
        "with fewer imports (the Docker image's HEALTHCHECK).",
    )
    add_arguments(p)
    p.set_defaults(func=cmd_health)


def cmd_health(args: argparse.Namespace) -> int:
    return run(args)

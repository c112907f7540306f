"""The webhook fuzz at length, outside the suite: the bodies of tests/test_fuzz_webhooks.py
(random, deep, huge and non-UTF-8 bodies on every path, and real batches with one bad value),
thousands of them, through the ASGI app with the processor as `serve` builds it.

    python scripts/fuzz_webhooks.py [--bodies 5000] [--database URL]

Prints how many bodies were posted, the answers by status (5xx must be 0), how many batches
with one bad item kept every good item normalized, the failures (none expected) and the peak
RSS of the process. Exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import collections
import resource
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from events.config import Settings  # noqa: E402
from events.logs import configure_logging  # noqa: E402
from events.services import build_processor  # noqa: E402
from storage.db import make_engine, upgrade  # noqa: E402
from tests.conftest import make_client  # noqa: E402
from tests.fuzz_bodies import (  # noqa: E402
    BODIES,
    CONTENT_TYPES,
    PATHS,
    BadBatch,
    bad_batches,
    check_any_body,
    check_bad_batch,
)

ANY = st.tuples(st.sampled_from(PATHS), BODIES, st.sampled_from(CONTENT_TYPES))


def run(url: str, bodies: int) -> int:
    upgrade(url)
    engine = make_engine(url, sqlite_synchronous="NORMAL")
    config = Settings(database_url=url, _env_file=None)
    worker = build_processor(config, engine)
    counts: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    started = time.monotonic()

    @settings(
        max_examples=bodies,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # count, do not shrink: every failure is reported as it is
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(ANY, bad_batches()))
    def fuzz(case: Any) -> None:
        counts["bodies"] += 1
        try:
            if isinstance(case, BadBatch):
                counts["batches with one bad item"] += 1
                check_bad_batch(client, worker, case)
                counts["of which every good item normalized"] += 1
            else:
                check_any_body(client, worker, *case)
        except Exception as exc:  # counted and shown, not shrunk
            failures.append(f"{case!r:.400}: {str(exc)[:300]}")
            failures.append(traceback.format_exc(limit=3)[-600:])
        if counts["bodies"] % 500 == 0:
            print(f"  {counts['bodies']} bodies, {time.monotonic() - started:.0f} s", flush=True)

    with make_client(config, engine) as client:
        original = client.post

        def post(*args: Any, **kwargs: Any) -> Any:
            answer = original(*args, **kwargs)
            counts[f"answered {answer.status_code}"] += 1
            counts["5xx"] += answer.status_code >= 500
            return answer

        client.post = post
        fuzz()
    engine.dispose()
    print(f"== {url.split(':')[0]}: {time.monotonic() - started:.0f} s")
    for name in sorted(counts):
        print(f"  {name:40} {counts[name]}")
    print(f"  failures                                 {len(failures) // 2}")
    for line in failures[:20]:
        print("   ", line)
    return len(failures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bodies", type=int, default=5000, help="bodies to post")
    parser.add_argument("--database", help="a database URL (default: a scratch SQLite file)")
    args = parser.parse_args()
    configure_logging("ERROR", "console")  # one line per webhook would drown the counts
    with tempfile.TemporaryDirectory() as work:
        url = args.database or f"sqlite:///{work}/fuzz.db"
        failed = run(url, args.bodies)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_mb:.0f} MB (resource.getrusage)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

"""Number Lookup (HLR) on demand: `POST /v1/lookups` and `infobip-events lookup NUMBER...`
(events/lookups.py says how a result is read).

Membrane's catalogue has no Number Lookup action, so the call is Infobip's documented request
through Membrane's proxy:

- with PUBLIC_URL set, `POST /number/1/notify` with our `/webhooks/number-lookup` URL: Infobip
  answers at once that it is looking, and each result arrives later as a webhook, which the
  processor keeps like any other (the number is `pending` until then);
- otherwise the synchronous `POST /number/1/query`, whose answer carries the results.

Either answer is kept raw before it is used (events/answers.py). A query's answer is processed
by the same parser as the webhook, so its results become the same lookup records. A result
younger than LOOKUP_TTL is reused instead of asking again (Infobip charges each lookup).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import structlog
from sqlalchemy import Connection, Engine

from events.answers import keep_answer
from events.channels import number_lookup
from events.channels.number_lookup import CHANNEL
from events.contacts import phone_key, wire
from events.lookups import lookups_of, reachable
from events.membrane.client import MembraneClient, MembraneError
from events.process import Processor, lookup_row
from events.vocabulary import Kind
from storage.db import write_transaction
from storage.queries.calls import StoredLookup, insert_lookups

log = structlog.get_logger("events.lookups")

QUERY_PATH = "/number/1/query"
NOTIFY_PATH = "/number/1/notify"
WEBHOOK_PATH = "/webhooks/number-lookup"
# How many numbers one request may name (one Infobip call each time).
MAX_NUMBERS = 100


@dataclass(frozen=True)
class LookupResult:
    """One number's answer: from the cache, from Infobip now, pending (asynchronous), none
    (Infobip said nothing of it) or failed (the call did not succeed)."""

    number: str  # the E.164 key
    source: str
    lookup: StoredLookup | None = None
    error: str | None = None


class Lookups:
    """On-demand lookups for the API and the CLI (built once, services.py)."""

    def __init__(
        self,
        engine: Engine,
        client: MembraneClient,
        processor: Processor,
        *,
        ttl_seconds: float,
        notify_url: str | None = None,
        region: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.client = client
        self.processor = processor
        self.ttl = timedelta(seconds=ttl_seconds)
        self.notify_url = notify_url
        self.region = region
        self.clock = clock

    def keys(self, numbers: Sequence[str]) -> list[str]:
        """The numbers' keys, each once, in order; ContactError naming the one that is not."""
        if not numbers:
            raise ValueError("numbers: give at least one phone number")
        if len(numbers) > MAX_NUMBERS:
            raise ValueError(f"numbers: at most {MAX_NUMBERS} at a time, got {len(numbers)}")
        return list(dict.fromkeys(phone_key(str(n), self.region) for n in numbers))

    def ask(self, keys: Sequence[str], *, refresh: bool = False) -> list[LookupResult]:
        """Each number's lookup: a result younger than LOOKUP_TTL unless `refresh`, otherwise
        asked of Infobip now. Never raises for Membrane: a failed call is a `failed` item."""
        now = self.clock()
        with self.engine.connect() as conn:
            known = lookups_of(conn, keys)
        fresh = {
            k: row
            for k, row in known.items()
            if not refresh
            and row.looked_up_at >= now - self.ttl
            and reachable(row.outcome) is not None  # a pending result is asked again
        }
        missing = [k for k in keys if k not in fresh]
        asked: dict[str, LookupResult] = {}
        if missing:
            try:
                asked = self._notify(missing) if self.notify_url else self._query(missing)
            except MembraneError as exc:
                log.warning("number lookup failed", numbers=len(missing), error=str(exc)[:300])
                asked = {k: LookupResult(k, "failed", known.get(k), str(exc)) for k in missing}
        return [LookupResult(k, "cache", fresh[k]) if k in fresh else asked[k] for k in keys]

    def _query(self, keys: list[str]) -> dict[str, LookupResult]:
        output = self.client.request("POST", QUERY_PATH, body={"to": [wire(k) for k in keys]})
        now = self.clock()
        raw_id = keep_answer(self.engine, CHANNEL, output, process=True, now=now)
        self.processor.process_ids([raw_id])
        with write_transaction(self.engine) as conn:
            found = lookups_of(conn, keys)
            repeated = [k for k in keys if k not in found or found[k].raw_id != raw_id]
            if repeated:
                _record_repeats(conn, output, raw_id, now, {wire(k) for k in repeated})
                found = lookups_of(conn, keys)
        out = {}
        for key in keys:
            row = found.get(key)
            if row is not None and row.raw_id == raw_id:
                out[key] = LookupResult(key, "infobip", row)
            else:
                out[key] = LookupResult(key, "none", row, "Infobip's answer had no result for it")
        found_now = sum(r.source == "infobip" for r in out.values())
        log.info("number lookup", numbers=len(keys), found=found_now)
        return out

    def _notify(self, keys: list[str]) -> dict[str, LookupResult]:
        body: dict[str, Any] = {
            "to": [wire(k) for k in keys],
            "notifyUrl": self.notify_url,
            "notifyContentType": "application/json",
        }
        output = self.client.request("POST", NOTIFY_PATH, body=body)
        keep_answer(
            self.engine,
            "lookup-request",
            output,
            process=False,
            note="Infobip's acknowledgement of an asynchronous Number Lookup: the results "
            "come to /webhooks/number-lookup",
            now=self.clock(),
        )
        log.info("number lookup asked", numbers=len(keys))
        return {k: LookupResult(k, "pending") for k in keys}


def _record_repeats(
    conn: Connection, output: Any, raw_id: str, now: datetime, numbers: set[str]
) -> None:
    """A query answer carries no time, so a result identical to an earlier one is the same
    event to the processor (redelivery is a no-op) and makes no new record; here it is a new
    lookup all the same: recorded, from this answer, as of now."""
    parsed = number_lookup.parse(json.dumps(output, default=str).encode(), "application/json")
    rows = [
        lookup_row(event, f"{raw_id}:{index}", raw_id, now)
        for index, event in enumerate(parsed.events)
        if event.kind == Kind.NUMBER_LOOKUP and event.recipient in numbers
    ]
    insert_lookups(conn, [{**row, "looked_up_at": now} for row in rows])


def notify_url(public_url: str | None, token_query: str, token: str | None) -> str | None:
    """Where Infobip posts asynchronous lookup results: our webhook, with the query token
    when webhook tokens are on (a notifyUrl cannot carry a header)."""
    if not public_url:
        return None
    url = public_url.rstrip("/") + WEBHOOK_PATH
    return f"{url}?{urlencode({token_query: token})}" if token else url

"""The account, read from Infobip through Membrane (docs/membrane.md): the balance (a history,
a `balance_low` event when it falls below INFOBIP_EVENTS_BALANCE_ALERT_BELOW, and the hours it
lasts at the last 24 hours' spend), own numbers, and CPaaS X applications and entities.

None of these reads has an action in the catalogue, so each is Infobip's documented request
through Membrane's proxy (`membrane request`). Every answer is stored exactly as it came
(membrane_answers) before anything is made of it, as the reconciler does with reports.

The periodic reads run in the worker on their own thread (AccountSync): a Membrane that fails
or hangs delays only them, never a webhook. In dry-run there is no account behind the
transport: nothing is read periodically, and what a command reads is shown, never kept.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import Connection, Engine

from events.automation import Automation
from events.background import BackgroundLoop
from events.channels.event import ParsedEvent
from events.channels.values import as_decimal, as_int, as_str
from events.contacts import is_phone_key, wire_key
from events.membrane.client import MembraneClient, MembraneError
from events.process import event_row
from events.vocabulary import Kind
from storage.db import write_transaction
from storage.queries import account as account_q
from storage.queries.costs import spend_since
from storage.queries.messages import insert_events_ignoring_duplicates

log = structlog.get_logger("events.account")

BALANCE_PATH = "/account/1/balance"
NUMBERS_PATH = "/numbers/1/numbers"
DIRECTORY_PATHS = {
    "application": "/provisioning/1/applications",
    "entity": "/provisioning/1/entities",
}
NUMBERS_PAGE = 100
DIRECTORY_PAGE = 100
MAX_PAGES = 1000  # a paging that never ends is Infobip's bug, not a reason to loop forever
BALANCE_LOW = "balance_low"
SPEND_WINDOW = timedelta(hours=24)


class AccountError(Exception):
    """A read that could not be made or understood; the message says which and why."""


@dataclass(frozen=True)
class BalanceReading:
    balance: Decimal
    currency: str
    checked_at: datetime
    hours_left: float | None
    alerted: bool = False
    stored: bool = True


@dataclass(frozen=True)
class SyncResult:
    numbers: int | None = None
    applications: int | None = None
    entities: int | None = None
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Origin:
    """Stands for the raw row of an event made from an account answer."""

    id: str
    source: str
    received_at: datetime


class Account:
    """Reads the account through Membrane, stores each answer raw, then what it says."""

    def __init__(
        self,
        engine: Engine,
        client: MembraneClient,
        *,
        alert_below: Decimal | None = None,
        automation: Automation | None = None,
        region: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.client = client
        self.alert_below = alert_below
        self.automation = automation
        self.region = region
        self.clock = clock

    @property
    def dry_run(self) -> bool:
        return self.client.name == "dry-run"

    def _get(
        self, purpose: str, path: str, query: dict[str, str] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Infobip's answer to a GET through the proxy, committed raw first: (its id, it)."""
        try:
            doc = self.client.request("GET", path, query=query)
        except MembraneError as exc:
            raise AccountError(f"GET {path}: {exc}") from exc
        call = f"GET {path}" + (
            f"?{'&'.join(f'{k}={v}' for k, v in query.items())}" if query else ""
        )
        answer_id = "dry-run"  # the transport's own answer: no Infobip said it, none is kept
        if not self.dry_run:
            body = json.dumps(doc, default=str).encode()
            with write_transaction(self.engine) as conn:
                answer_id = account_q.insert_answer(conn, purpose, call, body, self.clock())
        if not isinstance(doc, dict):
            raise AccountError(f"{call}: Infobip's answer is not an object (kept as {answer_id})")
        return answer_id, doc

    # ---- the balance --------------------------------------------------------------------------

    def check_balance(self) -> BalanceReading:
        """Read the balance, keep it, alert on a crossing. In dry-run the answer is only
        shown: there is no account behind it, so nothing is kept and nothing alerts."""
        answer_id, doc = self._get("balance", BALANCE_PATH)
        balance, currency = as_decimal(doc.get("balance")), as_str(doc.get("currency"))
        if balance is None or currency is None:
            raise AccountError(
                f"Infobip's balance answer has no balance and currency (kept as {answer_id})"
            )
        now = self.clock()
        if self.dry_run:
            return BalanceReading(balance, currency, now, None, stored=False)
        with write_transaction(self.engine) as conn:
            row_id = account_q.insert_balance(conn, now, balance, currency, answer_id)
            hours = hours_left(conn, balance, currency, now)
            alerted = self._alert(conn, balance, currency, hours, answer_id, row_id, now)
        if alerted and self.automation is not None:
            self.automation.after_commit()
        log.info("balance", balance=str(balance), currency=currency, hours_left=hours)
        return BalanceReading(balance, currency, now, hours, alerted)

    def _alert(
        self,
        conn: Connection,
        balance: Decimal,
        currency: str,
        hours: float | None,
        answer_id: str,
        row_id: int,
        now: datetime,
    ) -> bool:
        """One balance_low event when the balance falls below the threshold; none again until
        it has been at or above it (the flag is shared by every worker)."""
        threshold = self.alert_below
        if threshold is None:
            return False
        if balance >= threshold:
            if account_q.switch_alert(conn, BALANCE_LOW, False, now):
                log.info("balance recovered", balance=str(balance), currency=currency)
            return False
        if not account_q.switch_alert(conn, BALANCE_LOW, True, now):
            return False
        event = ParsedEvent(
            kind=Kind.BALANCE_LOW,
            channel="account",
            discriminator=f"balance:{row_id}",
            sub_type="BALANCE_LOW",
            occurred_at=now,
            data={
                "balance": str(balance),
                "currency": currency,
                "threshold": str(threshold),
                "hours_left": hours,
            },
        )
        row = event_row(event, _Origin(answer_id, "account", now), 0)
        ids = insert_events_ignoring_duplicates(conn, [row])
        log.warning("balance low", balance=str(balance), currency=currency, below=str(threshold))
        if self.automation is not None and ids:
            self.automation.apply(conn, [(event, ids[row["dedupe_key"]])], {}, now, {})
        return True

    # ---- own numbers, applications, entities --------------------------------------------------

    def sync_numbers(self) -> int:
        """Own numbers, every page, replaced whole once all are read (a failure on the way
        keeps the numbers known before). How many."""
        rows: list[account_q.NumberRow] = []
        now = self.clock()
        for page in range(MAX_PAGES):
            query = {"page": str(page), "size": str(NUMBERS_PAGE)}
            answer_id, doc = self._get("numbers", NUMBERS_PATH, query)
            items = doc.get("numbers")
            if not isinstance(items, list):
                raise AccountError(
                    f"Infobip's numbers answer has no numbers[] (kept as {answer_id})"
                )
            rows.extend(r for item in items if (r := self._number_row(item, now)) is not None)
            total = as_int(doc.get("numberCount"))
            if len(items) < NUMBERS_PAGE or (
                total is not None and (page + 1) * NUMBERS_PAGE >= total
            ):
                break
        if not self.dry_run:  # an empty list from no account must not wipe the real one
            with write_transaction(self.engine) as conn:
                account_q.replace_numbers(conn, list({r["number"]: r for r in rows}.values()))
        log.info("numbers synced", numbers=len(rows))
        return len(rows)

    def _number_row(self, item: Any, now: datetime) -> account_q.NumberRow | None:
        number = as_str(item.get("number")) if isinstance(item, dict) else None
        if number is None:
            return None
        key = wire_key(number, self.region)
        if not is_phone_key(key):  # a short code Infobip writes as digits still keys as one
            return None
        capabilities = item.get("capabilities")
        return {
            "number": key,
            "number_key": as_str(item.get("numberKey")),
            "country": as_str(item.get("country")),
            "type": as_str(item.get("type")),
            "capabilities": [str(c) for c in capabilities]
            if isinstance(capabilities, list)
            else [],
            "synced_at": now,
        }

    def sync_directory(self, kind: str) -> int:
        """CPaaS X applications (or entities) with their names, every page. How many."""
        path = DIRECTORY_PATHS[kind]
        found: list[tuple[str, str | None]] = []
        for page in range(MAX_PAGES):
            query = {"page": str(page), "size": str(DIRECTORY_PAGE)}
            answer_id, doc = self._get(f"{kind}s", path, query)
            items = doc.get("results")
            if not isinstance(items, list):
                raise AccountError(
                    f"Infobip's {kind}s answer has no results[] (kept as {answer_id})"
                )
            for item in items:
                if isinstance(item, dict) and (item_id := as_str(item.get(f"{kind}Id"))):
                    found.append((item_id, as_str(item.get(f"{kind}Name"))))
            paging = doc.get("paging") if isinstance(doc.get("paging"), dict) else {}
            pages = as_int(paging.get("totalPages")) if isinstance(paging, dict) else None
            if not items or (pages is not None and page + 1 >= pages):
                break
        if self.dry_run:
            return len(found)
        with write_transaction(self.engine) as conn:
            count = account_q.replace_directory(conn, kind, found, self.clock())
        log.info(f"{kind}s synced", count=count)
        return count

    def sync_all(self) -> SyncResult:
        """Numbers, applications and entities, each on its own: one failing stops no other."""
        counts: dict[str, int] = {}
        errors: list[str] = []
        for name, run in (
            ("numbers", self.sync_numbers),
            ("applications", lambda: self.sync_directory("application")),
            ("entities", lambda: self.sync_directory("entity")),
        ):
            try:
                counts[name] = run()
            except AccountError as exc:
                errors.append(str(exc))
                log.warning("sync failed", what=name, error=str(exc))
        return SyncResult(errors=errors, **counts)


def hours_left(conn: Connection, balance: Decimal, currency: str, now: datetime) -> float | None:
    """How many hours the balance lasts at the last 24 hours' spend in its currency (from the
    cost ledger); None when nothing was spent."""
    spent = spend_since(conn, currency, now - SPEND_WINDOW)
    if spent <= 0:
        return None
    if balance <= 0:
        return 0.0
    return round(float(balance / (spent / 24)), 1)


def latest_balance(engine: Engine) -> account_q.StoredBalance | None:
    """The last balance read (for a metric: the balance and its currency)."""
    with engine.connect() as conn:
        return account_q.latest_balance(conn)


class AccountSync(BackgroundLoop):
    """The worker's periodic reads: the balance every `balance_seconds` (never in dry-run),
    numbers, applications and entities every `numbers_seconds`; None turns one off. The first
    of each runs soon after start. Several workers share the work loosely: a balance read by
    another worker a moment ago is not read again."""

    thread_name = "account"

    def __init__(
        self,
        account: Account,
        *,
        balance_seconds: float | None,
        numbers_seconds: float | None,
        first_after: float = 5.0,
    ) -> None:
        super().__init__()
        self.account = account
        # Dry-run: no account behind the transport, nothing to read.
        self.balance_seconds = None if account.dry_run else balance_seconds
        self.numbers_seconds = None if account.dry_run else numbers_seconds
        self.first_after = first_after

    @property
    def needed(self) -> bool:
        return self.balance_seconds is not None or self.numbers_seconds is not None

    def start(self) -> None:
        if self.needed:
            super().start()

    def balance_due(self) -> bool:
        """False when some worker read the balance less than 90% of an interval ago."""
        if self.balance_seconds is None:
            return False
        found = latest_balance(self.account.engine)
        if found is None:
            return True
        age = (self.account.clock() - found.checked_at).total_seconds()
        return age >= 0.9 * self.balance_seconds

    def run_once(self, what: str) -> None:
        """One periodic read; a failure is logged and waits for the next turn."""
        try:
            if what == "balance":
                if self.balance_due():
                    self.account.check_balance()
            else:
                self.account.sync_all()
        except Exception as exc:
            log.warning("account read failed", what=what, error=str(exc).splitlines()[0])

    def run_forever(self) -> None:
        intervals = {"balance": self.balance_seconds, "numbers": self.numbers_seconds}
        start = time.monotonic()
        due = {name: start + self.first_after for name, every in intervals.items() if every}
        while due and not self._stop.is_set():
            if self._stop.wait(max(0.0, min(due.values()) - time.monotonic())):
                return
            for name, at in list(due.items()):
                if at <= time.monotonic() and not self._stop.is_set():
                    self.run_once(name)
                    due[name] = time.monotonic() + (intervals[name] or 0.0)

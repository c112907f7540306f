"""The long-lived objects, built once from the settings and passed down: the database engine,
the Membrane client and action catalogue, the suppression policy, the rules, compliance, the
processor, the dispatcher, the reconciler and the masking sessions.

`Services` builds each on first use, so a command that only lists opt-outs never builds a
Membrane client, and `serve` builds them all once and shares them between the receiver, the
processor, the dispatcher and the reconciler. Nothing here starts a thread or touches the
network until asked (`start_workers`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import Engine

from events import metrics
from events.account import Account, AccountSync
from events.answers import OnDemand
from events.automation import Automation, RulesHolder, build_holder
from events.background import Checkpointer
from events.backlog import BacklogWatch
from events.bookkeeping import Bookkeeping
from events.channels.registry import DEFAULT_DELAYS, PARSERS, SEND_ACTIONS
from events.compliance import Compliance
from events.config import Settings, SettingsError
from events.dispatch import Dispatcher
from events.erasure import ErasureKey
from events.lookups_on_demand import Lookups, notify_url
from events.masking import MaskingSessions
from events.membrane.catalogue import Action
from events.membrane.client import MembraneClient
from events.membrane.factory import build_catalogue, build_client
from events.optouts import OptOutPolicy
from events.process import Processor
from events.reconcile import Reconciler
from events.retention import Pruner, Retention
from events.rules.load import RulesError
from events.rules.optout import (
    DEFAULT_HELP_WORDS,
    DEFAULT_OPT_IN_WORDS,
    DEFAULT_OPT_OUT_WORDS,
    Vocabulary,
)
from events.tfa import Verifications
from events.times import parse_age_seconds
from storage.db import make_engine


def build_engine(settings: Settings, *, background_checkpoints: bool = False) -> Engine:
    return make_engine(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        pool_size=settings.db_pool_size,
        connect_timeout=settings.db_connect_timeout_seconds,
        # With a checkpoint thread, commits only checkpoint as a safety net (40 MB of WAL).
        wal_autocheckpoint=10_000 if background_checkpoints else 1000,
    )


def build_policy(settings: Settings) -> OptOutPolicy:
    """Who gets no automated message (events/optouts.py)."""
    return OptOutPolicy(
        scope=settings.optout_scope,
        uncertain=settings.optout_uncertain,
        suppress_hard_bounces=settings.suppress_hard_bounces,
        region=settings.default_region,
        erasure=erasure_key(settings),
    )


def erasure_key(settings: Settings) -> ErasureKey | None:
    secret = settings.erasure_key
    return ErasureKey.of(secret.get_secret_value()) if secret is not None else None


def build_compliance(settings: Settings, catalogue: dict[str, Action] | None = None) -> Compliance:
    return Compliance(
        catalogue=catalogue or build_catalogue(settings),
        channels=frozenset(settings.optout_channels),
        vocabulary=Vocabulary.build(
            opt_out=[*DEFAULT_OPT_OUT_WORDS, *settings.optout_words],
            opt_in=[*DEFAULT_OPT_IN_WORDS, *settings.optin_words],
            help=[*DEFAULT_HELP_WORDS, *settings.help_words],
        ),
        opt_out_text=settings.optout_confirmation,
        opt_in_text=settings.optin_confirmation,
        help_text=settings.help_text,
        max_attempts=settings.dispatch_max_attempts,
        policy=build_policy(settings),
    )


def rules_options(settings: Settings, catalogue: dict[str, Action]) -> dict[str, Any]:
    """What a rules file is checked against (the same at start, on reload and by `rules
    check`): the catalogue, the channels we can send on, the own numbers from the settings, how
    national writings of numbers are read, and whether forwards can be signed."""
    return {
        "catalogue_keys": tuple(catalogue),
        "send_channels": tuple(SEND_ACTIONS),
        "own_numbers": tuple(settings.own_numbers),
        "region": settings.default_region,
        "forward_secret_set": settings.forward_hmac_secret is not None,
    }


def build_rules(settings: Settings, catalogue: dict[str, Action] | None = None) -> RulesHolder:
    """The rules in force; a file that does not validate stops the start with every problem."""
    catalogue = catalogue or build_catalogue(settings)
    try:
        holder = build_holder(settings.rules_file, **rules_options(settings, catalogue))
    except OSError as exc:
        raise SettingsError(f"INFOBIP_EVENTS_RULES_FILE: cannot read it: {exc}") from None
    except RulesError as exc:
        raise SettingsError(f"INFOBIP_EVENTS_RULES_FILE: {exc}") from None
    return holder


def build_processor(
    settings: Settings,
    engine: Engine,
    *,
    catalogue: dict[str, Action] | None = None,
    rules: RulesHolder | None = None,
) -> Processor:
    catalogue = catalogue or build_catalogue(settings)
    holder = rules or build_rules(settings, catalogue)
    automation = Automation(
        holder,
        catalogue,
        max_attempts=settings.dispatch_max_attempts,
        policy=build_policy(settings),
        # SKIP_UNREACHABLE (issue 13): a lookup saying unreachable is trusted for LOOKUP_TTL.
        skip_unreachable_within=timedelta(seconds=settings.lookup_ttl_seconds)
        if settings.skip_unreachable
        else None,
    )
    compliance = build_compliance(settings, catalogue)
    # Confirmations in the sender's language: the rules file's [compliance.texts], as reloaded.
    compliance.texts_of = lambda: holder.current.compliance_texts
    return Processor(
        engine,
        PARSERS,
        batch_size=settings.process_batch_size,
        max_attempts=settings.process_max_attempts,
        idle_seconds=settings.process_idle_seconds,
        compliance=compliance,
        automation=automation,
        bookkeeping=Bookkeeping(automation.holder, region=settings.default_region),
        backlog=BacklogWatch(engine, settings.process_backlog_seconds),
    )


def build_dispatcher(
    settings: Settings,
    engine: Engine,
    *,
    client: MembraneClient | None = None,
    catalogue: dict[str, Action] | None = None,
) -> Dispatcher:
    secret = settings.forward_hmac_secret
    return Dispatcher(
        engine,
        client or build_client(settings),
        catalogue or build_catalogue(settings),
        concurrency=settings.dispatch_concurrency,
        lease_seconds=settings.dispatch_lease_seconds,
        backoff_seconds=settings.dispatch_backoff_seconds,
        backoff_cap_seconds=settings.dispatch_backoff_cap_seconds,
        idle_seconds=settings.dispatch_idle_seconds,
        notify_url=settings.notify_url,
        send_via_proxy=frozenset(settings.membrane_send_via_proxy),
        forward_secret=secret.get_secret_value() if secret else None,
        policy=build_policy(settings),
        validate_email=settings.validate_email,
    )


def reconcile_delays(settings: Settings) -> dict[str, timedelta]:
    """How long after sending a missing report is looked for, per channel."""
    delays = dict(DEFAULT_DELAYS)
    for item in settings.reconcile_after:
        channel, _, age = item.partition("=")
        try:
            delays[channel.strip()] = timedelta(seconds=parse_age_seconds(age))
        except ValueError as exc:
            raise SettingsError(f"INFOBIP_EVENTS_RECONCILE_AFTER: {item!r}: {exc}") from None
    return delays


class Services:
    """The long-lived objects of one process, each built on first use."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        background_checkpoints: bool = False,
    ) -> None:
        self.settings = settings
        metrics.configure(settings.metrics)
        self._given_engine = engine
        self._background_checkpoints = background_checkpoints
        self._started: list[Any] = []
        # Who to tell when an action is queued outside a worker (the receiver's API, under
        # `serve`: the workers' wake-up sockets); set by the process that knows.
        self.outbox_listeners: list[Callable[[], None]] = []

    def outbox_changed(self) -> None:
        """An action was queued: wake the dispatcher, here or in the worker processes."""
        if "dispatcher" in self.__dict__:
            self.dispatcher.wake()
        for listener in self.outbox_listeners:
            listener()

    @cached_property
    def engine(self) -> Engine:
        engine = self._given_engine
        if engine is None:
            engine = build_engine(
                self.settings, background_checkpoints=self._background_checkpoints
            )
        metrics.watch_engine(engine)  # database errors counted, whoever built the engine
        return engine

    @cached_property
    def catalogue(self) -> dict[str, Action]:
        return build_catalogue(self.settings)

    @cached_property
    def membrane(self) -> MembraneClient:
        return build_client(self.settings)

    @cached_property
    def policy(self) -> OptOutPolicy:
        return build_policy(self.settings)

    @cached_property
    def compliance(self) -> Compliance:
        return build_compliance(self.settings, self.catalogue)

    @cached_property
    def processor(self) -> Processor:
        processor = build_processor(self.settings, self.engine, catalogue=self.catalogue)
        if processor.automation is not None:
            processor.automation.on_enqueue = self.dispatcher.wake
        return processor

    @cached_property
    def dispatcher(self) -> Dispatcher:
        return build_dispatcher(
            self.settings, self.engine, client=self.membrane, catalogue=self.catalogue
        )

    @cached_property
    def reconciler(self) -> Reconciler:
        settings = self.settings
        return Reconciler(
            self.engine,
            self.membrane,
            self.catalogue,
            self.processor,
            delays=reconcile_delays(settings),
            window=timedelta(hours=settings.reconcile_window_hours),
            interval_seconds=settings.reconcile_interval_seconds,
            inbound_backstop=settings.reconcile_inbound_backstop,
        )

    @cached_property
    def retention(self) -> Retention:
        return Retention(self.settings.retention_raw_days, self.settings.retention_events_days)

    @cached_property
    def pruner(self) -> Pruner:
        return Pruner(self.engine, self.retention)

    @cached_property
    def masking(self) -> MaskingSessions:
        return MaskingSessions(
            self.engine,
            fallback_file_url=self.settings.masking_fallback_file_url,
            region=self.settings.default_region,
        )

    # ---- account: balance, numbers, applications, entities (events/account.py) -------------

    @cached_property
    def account(self) -> Account:
        return Account(
            self.engine,
            self.membrane,
            alert_below=self.settings.balance_alert_below,
            automation=self.processor.automation,
            region=self.settings.default_region,
        )

    @cached_property
    def account_sync(self) -> AccountSync:
        return AccountSync(
            self.account,
            balance_seconds=self.settings.interval_seconds("balance_interval"),
            numbers_seconds=self.settings.interval_seconds("numbers_interval"),
        )

    # ---- end account ---------------------------------------------------------------------

    # ---- on-demand Membrane calls: lookups and 2FA (issue 13, items 5-6) ----------------------

    @cached_property
    def on_demand(self) -> OnDemand:
        return OnDemand(self.settings.on_demand_concurrency)

    @cached_property
    def lookups(self) -> Lookups:
        settings = self.settings
        token = settings.webhook_token.get_secret_value() if settings.webhook_token else None
        return Lookups(
            self.engine,
            self.membrane,
            self.processor,
            ttl_seconds=settings.lookup_ttl_seconds,
            notify_url=notify_url(settings.public_url, settings.webhook_token_query, token),
            region=settings.default_region,
        )

    @cached_property
    def verifications(self) -> Verifications:
        settings = self.settings
        return Verifications(
            self.engine,
            self.membrane,
            self.catalogue,
            application_id=settings.tfa_application_id,
            message_id=settings.tfa_message_id,
            pin_ttl_seconds=settings.tfa_pin_ttl_seconds,
            max_per_hour=settings.tfa_max_per_hour,
            max_attempts=settings.dispatch_max_attempts,
            region=settings.default_region,
            on_queued=self.outbox_changed,
        )

    def start_checkpoints(self) -> None:
        """SQLite WAL checkpoints on a thread of their own, so that no commit pays for one."""
        self._start(Checkpointer(self.engine))

    def start_workers(self) -> None:
        """The dispatcher, the reconciler and the pruning in threads (the processor runs in the
        caller's thread, or is started by it)."""
        self._start(self.dispatcher)
        self._start(self.reconciler)
        self._start(self.account_sync)  # on its own thread: Membrane never holds up a webhook
        self._start(self.pruner)

    def _start(self, loop: Any) -> None:
        loop.start()
        self._started.append(loop)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop what was started, newest first; dispose of the engine if it is ours."""
        while self._started:
            with contextlib.suppress(Exception):
                self._started.pop().stop(timeout)
        if "on_demand" in self.__dict__:
            self.on_demand.close()
        if self._given_engine is None and "engine" in self.__dict__:
            self.engine.dispose()

"""create_app(settings): the webhook receiver, the read API and the health checks."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import ipaddress
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import Engine, Row, text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from events.automation import Automation, RulesHolder, build_holder
from events.background import Checkpointer
from events.channels.registry import CHANNEL_PATHS, PARSERS
from events.compliance import Compliance
from events.config import Settings, SettingsError
from events.contacts import ContactError, contact_key, phone_key, wire
from events.dispatch import Dispatcher
from events.ingest import GroupCommitter, WebhookReceiver
from events.masking import MaskingSessions
from events.membrane.catalogue import SEND_ACTIONS, TEMPLATE_SEND_ACTIONS, Action
from events.membrane.client import MembraneClient
from events.membrane.factory import build_catalogue, build_client
from events.optouts import OptOutPolicy, ReviewError
from events.outbox import enqueue, prepare, refusals
from events.process import Processor
from events.reconcile import DEFAULT_DELAYS, Reconciler
from events.rules.load import RulesError
from events.rules.optout import (
    DEFAULT_HELP_WORDS,
    DEFAULT_OPT_IN_WORDS,
    DEFAULT_OPT_OUT_WORDS,
    Vocabulary,
)
from events.verify import Verifier
from events.when import parse_age_seconds, parse_since
from storage import queries
from storage.db import current_revision, head_revision, make_engine, upgrade, write_transaction
from storage.ids import new_id
from storage.models import ACTION_STATES, REVIEW_STATES
from storage.queries import opt_out_history

log = structlog.get_logger("events.app")

MAX_PAGE = 500


@dataclass
class Services:
    settings: Settings
    engine: Engine
    verifier: Verifier
    committer: GroupCommitter
    processor: Processor | None
    head: str | None
    masking: MaskingSessions
    catalogue: dict[str, Action]
    dispatcher: Dispatcher | None
    policy: OptOutPolicy


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
    """Who gets no automated message, from the settings (events/optouts.py)."""
    return OptOutPolicy(
        scope=settings.optout_scope,
        uncertain=settings.optout_uncertain,
        suppress_hard_bounces=settings.suppress_hard_bounces,
        region=settings.default_region,
    )


def build_dispatcher(
    settings: Settings,
    engine: Engine,
    *,
    client: MembraneClient | None = None,
    catalogue: dict[str, Action] | None = None,
) -> Dispatcher:
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
        forward_secret=settings.forward_hmac_secret.get_secret_value()
        if settings.forward_hmac_secret
        else None,
        policy=build_policy(settings),
    )


def build_reconciler(
    settings: Settings,
    engine: Engine,
    processor: Processor,
    *,
    client: MembraneClient | None = None,
    catalogue: dict[str, Action] | None = None,
) -> Reconciler:
    delays = dict(DEFAULT_DELAYS)
    for item in settings.reconcile_after:
        channel, _, age = item.partition("=")
        try:
            delays[channel.strip()] = timedelta(seconds=parse_age_seconds(age))
        except ValueError as exc:
            raise SettingsError(f"INFOBIP_EVENTS_RECONCILE_AFTER: {item!r}: {exc}") from None
    return Reconciler(
        engine,
        client or build_client(settings),
        catalogue or build_catalogue(settings),
        processor,
        delays=delays,
        window=timedelta(hours=settings.reconcile_window_hours),
        interval_seconds=settings.reconcile_interval_seconds,
        inbound_backstop=settings.reconcile_inbound_backstop,
    )


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
    """What a rules file is checked against: the catalogue, the channels we can send on, and
    the own numbers from the settings."""
    return {
        "catalogue_keys": tuple(catalogue),
        "send_channels": tuple(SEND_ACTIONS),
        "own_numbers": tuple(settings.own_numbers),
        "region": settings.default_region,
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
    forwards = [r.name for r in holder.current.rules if any(d.type == "forward" for d in r.do)]
    if forwards and settings.forward_hmac_secret is None:
        raise SettingsError(
            f"rules {', '.join(forwards)} forward events to URLs, which are always signed: "
            "set INFOBIP_EVENTS_FORWARD_HMAC_SECRET"
        )
    return holder


def build_processor(
    settings: Settings,
    engine: Engine,
    ingest_idle: Callable[[], bool] | None = None,
    *,
    catalogue: dict[str, Action] | None = None,
    rules: RulesHolder | None = None,
) -> Processor:
    catalogue = catalogue or build_catalogue(settings)
    automation = Automation(
        rules or build_rules(settings, catalogue),
        catalogue,
        max_attempts=settings.dispatch_max_attempts,
        policy=build_policy(settings),
    )
    return Processor(
        engine,
        PARSERS,
        batch_size=settings.process_batch_size,
        max_attempts=settings.process_max_attempts,
        idle_seconds=settings.process_idle_seconds,
        ingest_idle=ingest_idle,
        compliance=build_compliance(settings, catalogue),
        automation=automation,
    )


# ---- JSON shapes of the read API ----------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _amount(value: Decimal | None) -> str | None:
    # Decimal text, never a float: Infobip prices carry up to ten decimals.
    return format(value, "f") if value is not None else None


def _status(row: Row[Any]) -> dict[str, Any] | None:
    if row.status_group_id is None and row.status_name is None and row.status_group_name is None:
        return None
    return {
        "group_id": row.status_group_id,
        "group_name": row.status_group_name,
        "id": row.status_id,
        "name": row.status_name,
        "description": row.status_description,
    }


def _error(row: Row[Any]) -> dict[str, Any] | None:
    if row.error_group_id is None and row.error_name is None and row.error_group_name is None:
        return None
    return {
        "group_id": row.error_group_id,
        "group_name": row.error_group_name,
        "id": row.error_id,
        "name": row.error_name,
        "description": row.error_description,
        "permanent": row.error_permanent,
    }


def _price(row: Row[Any]) -> dict[str, Any] | None:
    if row.price_amount is None and row.price_currency is None:
        return None
    return {"amount": _amount(row.price_amount), "currency": row.price_currency}


def decision_json(row: Row[Any]) -> dict[str, Any]:
    """Explain: what a rule decided for an event and why."""
    return {
        "rule": row.rule,
        "outcome": row.outcome,
        "reason": row.reason,
        "contact": row.contact,
        "actions": row.actions,
        "not_before": _iso(row.not_before),
        "rules_version": row.rules_version,
        "decided_at": _iso(row.created_at),
    }


def event_json(row: Row[Any], decisions: dict[int, list[Row[Any]]] | None = None) -> dict[str, Any]:
    out = {
        "id": row.id,
        "webhook_id": row.raw_id,
        "item_index": row.item_index,
        "source": row.source,
        "channel": row.channel,
        "channel_uncertain": row.channel_uncertain,
        "kind": row.kind,
        "sub_type": row.sub_type,
        "message_id": row.message_id,
        "direction": row.direction,
        "sender": row.sender,
        "recipient": row.recipient,
        "occurred_at": _iso(row.occurred_at),
        "received_at": _iso(row.received_at),
        "status": _status(row),
        "error": _error(row),
        "price": _price(row),
        "data": row.data,
        "note": row.note,
    }
    if decisions is not None:
        out["decisions"] = [decision_json(d) for d in decisions.get(row.id, [])]
    return out


def decisions_by_event(conn: Any, rows: list[Row[Any]]) -> dict[int, list[Row[Any]]]:
    out: dict[int, list[Row[Any]]] = {}
    for d in queries.decisions_for_events(conn, [r.id for r in rows]):
        out.setdefault(d.event_id, []).append(d)
    return out


def action_json(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "action": row.action,
        "channel": row.channel,
        "state": row.state,
        "attempts": row.attempts,
        "max_attempts": row.max_attempts,
        "next_attempt_at": _iso(row.next_attempt_at)
        if row.state in ("pending", "unknown_outcome") and row.next_attempt_at.year < 9999
        else None,
        "last_error": row.last_error,
        "input": row.input,
        "tracking_id": row.tracking_id,
        "output": row.output,
        "message_ids": row.message_ids or [],
        "caused_by_event_id": row.caused_by_event_id,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }


SEND_FIELDS = (
    "to",
    "text",
    "from",
    "subject",
    "html",
    "template",
    "language",
    "placeholders",
    "callback_data",
)


def send_request(doc: Any) -> tuple[str, dict[str, Any]]:
    """POST /v1/send's body -> (catalogue action, its values); ValueError says what is wrong."""
    if not isinstance(doc, dict):
        raise ValueError("send a JSON object: channel, to, text, ...")
    channel = doc.get("channel")
    if channel not in SEND_ACTIONS:
        raise ValueError(f"channel must be one of {', '.join(sorted(SEND_ACTIONS))}")
    unknown = set(doc) - {"channel", *SEND_FIELDS}
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    values = {k: doc[k] for k in SEND_FIELDS if doc.get(k) not in (None, "")}
    if "to" not in values:
        raise ValueError("'to' is required")
    action = SEND_ACTIONS[channel]
    if channel == "whatsapp" and "template" in values:
        action = TEMPLATE_SEND_ACTIONS["whatsapp"]
    elif "text" not in values and not (channel == "email" and "html" in values):
        raise ValueError("'text' is required" + (" (or 'html')" if channel == "email" else ""))
    if channel == "email":
        missing = [k for k in ("from", "subject") if k not in values]
        if missing:
            raise ValueError(f"email needs {' and '.join(repr(m) for m in missing)}")
    if channel == "whatsapp" and "from" not in values:
        raise ValueError("whatsapp needs 'from' (your WhatsApp sender number)")
    return action, values


def run_json(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "state": row.state,
        "channel": row.channel,
        "dry_run": row.dry_run,
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "checked": row.checked,
        "recovered": row.recovered,
        "still_missing": row.still_missing,
        "discovered": row.discovered,
        "closed": row.closed,
        "errors": row.errors,
        "error": row.error,
    }


def audit_json(row: Row[Any]) -> dict[str, Any]:
    return {
        "action": row.action,
        "source": row.source,
        "message_id": row.message_id,
        "words": row.words,
        "at": _iso(row.at),
    }


def optout_json(row: Row[Any], policy: OptOutPolicy) -> dict[str, Any]:
    return {
        "channel": row.channel,
        "contact": row.contact,
        "since": _iso(row.updated_at),
        "scope": policy.scope_of(row.channel),
        "applies_to": list(policy.channels(row.channel)),
    }


def review_json(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "channel": row.channel,
        "contact": row.contact,
        "state": row.state,
        "message_id": row.message_id,
        "words": row.words,
        "language": row.language,
        "created_at": _iso(row.created_at),
        "decided_at": _iso(row.decided_at),
        "decided_by": row.decided_by,
    }


def call_json(row: Row[Any], timeline: list[Row[Any]]) -> dict[str, Any]:
    return {
        "call_id": row.call_id,
        "state": row.state,
        "last_event": row.last_event,
        "direction": row.direction,
        "sender": row.sender,
        "recipient": row.recipient,
        "started_at": _iso(row.started_at),
        "answered_at": _iso(row.answered_at),
        "ended_at": _iso(row.ended_at),
        "duration_seconds": row.duration_seconds,
        "hangup_cause": row.hangup_cause,
        "hangup_description": row.hangup_description,
        "updated_at": _iso(row.updated_at),
        "events": [event_json(e) for e in timeline],
    }


def lookup_json(row: Row[Any]) -> dict[str, Any]:
    return {
        "number": row.number,
        "outcome": row.outcome,
        "reachable": row.outcome == "DELIVERED" if row.outcome else None,
        "mcc_mnc": row.mcc_mnc,
        "network": row.network,
        "ported": row.ported,
        "ported_network": row.ported_network,
        "roaming": row.roaming,
        "roaming_network": row.roaming_network,
        "error": {"name": row.error_name, "permanent": row.error_permanent}
        if row.error_name
        else None,
        "looked_up_at": _iso(row.looked_up_at),
        "webhook_id": row.raw_id,
    }


def message_json(
    row: Row[Any],
    timeline: list[Row[Any]] | None,
    decisions: dict[int, list[Row[Any]]] | None = None,
    tags: list[str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "message_id": row.message_id,
        "channel": row.channel,
        "channel_uncertain": row.channel_uncertain,
        "direction": row.direction,
        "state": row.state,
        "status": _status(row),
        "error": _error(row),
        "sender": row.sender,
        "recipient": row.recipient,
        "bulk_id": row.bulk_id,
        "callback_data": row.callback_data,
        "application_id": row.application_id,
        "entity_id": row.entity_id,
        "price": _price(row),
        "sent_at": _iso(row.sent_at),
        "done_at": _iso(row.done_at),
        "seen_at": _iso(row.seen_at),
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }
    if tags is not None:
        out["tags"] = tags
    if timeline is not None:
        out["events"] = [event_json(e, decisions) for e in timeline]
    return out


def webhook_json(
    row: Row[Any], made: list[Row[Any]], decisions: dict[int, list[Row[Any]]] | None = None
) -> dict[str, Any]:
    body = bytes(row.body)
    try:
        body_text: str | None = body.decode("utf-8")
    except UnicodeDecodeError:
        body_text = None
    out = {
        "id": row.id,
        "channel": row.channel,
        "received_at": _iso(row.received_at),
        "content_type": row.content_type,
        "state": row.state,
        "error": row.error,
        "source": row.source,
        "remote_addr": row.remote_addr,
        "headers": row.headers,
        "attempts": row.attempts,
        "item_count": row.item_count,
        "processed_at": _iso(row.processed_at),
        "body": body_text,
        "events": [event_json(e, decisions) for e in made],
    }
    if body_text is None:
        out["body_base64"] = base64.b64encode(body).decode()
    return out


def _problem(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _reload_on_sighup(processor: Processor) -> None:
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        # Only in the main thread's loop (uvicorn's); tests that run the app elsewhere skip it.
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, processor.request_rules_reload)


# ---- the app ------------------------------------------------------------------------------------


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    run_processor: bool = True,
    auto_migrate: bool | None = None,
) -> ASGIApp:
    """The ASGI app. Nothing touches the database until the lifespan starts."""
    holder: dict[str, Services] = {}

    def services() -> Services:
        return holder["s"]

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        migrate = settings.is_sqlite if auto_migrate is None else auto_migrate
        if migrate:
            await run_in_threadpool(upgrade, settings.database_url)
        eng = engine or build_engine(settings, background_checkpoints=True)
        checkpoints = Checkpointer(eng)
        committer = GroupCommitter(
            eng,
            max_batch=settings.ingest_max_batch,
            timeout=settings.ingest_commit_timeout_seconds,
        )
        # One catalogue and one Membrane client serve the processor, dispatcher and reconciler.
        catalogue = build_catalogue(settings)
        processor = dispatcher = reconciler = None
        if run_processor:
            client = build_client(settings)
            processor = build_processor(settings, eng, committer.idle, catalogue=catalogue)
            committer.on_commit = processor.wake
            dispatcher = build_dispatcher(settings, eng, client=client, catalogue=catalogue)
            if processor.automation is not None:
                processor.automation.on_enqueue = dispatcher.wake
                _reload_on_sighup(processor)
            reconciler = build_reconciler(
                settings, eng, processor, client=client, catalogue=catalogue
            )
        await committer.start()
        checkpoints.start()
        receiver.committer = committer
        masking = MaskingSessions(
            eng,
            fallback_file_url=settings.masking_fallback_file_url,
            region=settings.default_region,
        )
        if dispatcher is not None:
            dispatcher.start()
        if reconciler is not None:
            reconciler.start()
        receiver.answer_masking_with(masking.answer, inline=eng.dialect.name == "sqlite")
        if processor is not None:
            processor.start()
        holder["s"] = Services(
            settings=settings,
            engine=eng,
            verifier=receiver.verifier,
            committer=committer,
            processor=processor,
            head=head_revision(settings.database_url),
            masking=masking,
            catalogue=catalogue,
            dispatcher=dispatcher,
            policy=build_policy(settings),
        )
        if not settings.webhook_auth_configured:
            log.warning(
                "NO WEBHOOK AUTHENTICATION IS CONFIGURED: anyone who finds this URL can post "
                "callbacks. Set INFOBIP_EVENTS_WEBHOOK_USERNAME/PASSWORD, WEBHOOK_TOKEN, "
                "WEBHOOK_HMAC_SECRET or WEBHOOK_ALLOWED_IPS."
            )
        log.info("started", database=eng.dialect.name, processor=processor is not None)
        try:
            yield
        finally:
            await committer.stop()
            await run_in_threadpool(checkpoints.stop, 1.0)
            if processor is not None:
                await run_in_threadpool(processor.stop)
            if dispatcher is not None:
                await run_in_threadpool(dispatcher.stop)
            if reconciler is not None:
                await run_in_threadpool(reconciler.stop, 1.0)
            if engine is None:
                eng.dispose()

    # ---- webhooks: a plain ASGI handler in front of Starlette (see WebhookReceiver) ----------

    receiver = WebhookReceiver(
        channels=CHANNEL_PATHS,
        verifier=Verifier.from_settings(settings),
        max_body=settings.max_body_bytes,
        keep_headers=settings.keep_headers,
        ack_body=settings.ack_body,
        ack_content_type=settings.ack_content_type,
        basic_realm=settings.webhook_username is not None,
    )

    # ---- read API -------------------------------------------------------------------------------

    def _reader_denied(request: Request) -> Response | None:
        s = services()
        token = settings.api_token
        if token is not None:
            given = request.headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            expected = token.get_secret_value().encode()
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), expected):
                return JSONResponse(
                    {"error": "a bearer token is required (INFOBIP_EVENTS_API_TOKEN)"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            return None
        peer = request.client.host if request.client else None
        forwarded = request.headers.get("x-forwarded-for")
        ip = s.verifier.client_ip(peer, forwarded)
        # A local reverse proxy makes every caller look like loopback: a forwarded request
        # counts as remote unless a trusted proxy vouched for its address.
        proxied = ip == peer and (forwarded is not None or "forwarded" in request.headers)
        if proxied or not _is_loopback(ip):
            return _problem(
                403, "no INFOBIP_EVENTS_API_TOKEN is set, so the read API answers loopback only"
            )
        return None

    def reader(
        handler: Callable[[Request, Services], Any],
    ) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            denied = _reader_denied(request)
            if denied is not None:
                return denied
            try:
                result = await run_in_threadpool(handler, request, services())
            except _BadQuery as exc:
                return _problem(400, str(exc))
            if isinstance(result, Response):
                return result
            return JSONResponse(result)

        return endpoint

    def get_webhook(request: Request, s: Services) -> Any:
        raw_id = request.path_params["webhook_id"]
        with s.engine.connect() as conn:
            row = queries.get_raw(conn, raw_id)
            if row is None:
                return _problem(404, f"no webhook {raw_id!r}")
            made = queries.events_for_raw(conn, raw_id)
            return webhook_json(row, made, decisions_by_event(conn, made))

    def get_message(request: Request, s: Services) -> Any:
        message_id = request.path_params["message_id"]
        channel = request.query_params.get("channel")
        with s.engine.connect() as conn:
            rows = queries.get_messages(conn, message_id, channel)
            if not rows:
                return _problem(404, f"no message {message_id!r}")
            if len(rows) > 1:
                return _problem(
                    409,
                    "several channels have this message id; add ?channel=",
                    channels=[r.channel for r in rows],
                )
            row = rows[0]
            timeline = queries.timeline(conn, row.channel, row.message_id)
            return message_json(
                row,
                timeline,
                decisions_by_event(conn, timeline),
                queries.tags_of(conn, row.channel, row.message_id),
            )

    def list_messages(request: Request, s: Services) -> Any:
        filters, cursor, limit = _list_query(
            request, ("channel", "state", "direction", "sender", "recipient", "bulk_id")
        )
        with s.engine.connect() as conn:
            rows = queries.list_messages(conn, filters, cursor, limit)
        return _page([message_json(r, None) for r in rows], rows, limit)

    def list_events(request: Request, s: Services) -> Any:
        filters, cursor, limit = _list_query(
            request,
            ("channel", "kind", "message_id", "direction", "source", "sub_type", "webhook_id"),
        )
        with s.engine.connect() as conn:
            rows = queries.list_events(conn, filters, cursor, limit)
            decided = decisions_by_event(conn, rows)
        return _page([event_json(r, decided) for r in rows], rows, limit)

    def get_event(request: Request, s: Services) -> Any:
        try:
            event_id = int(request.path_params["event_id"])
        except ValueError:
            return _problem(400, "an event id is a number (see /v1/events)")
        with s.engine.connect() as conn:
            row = queries.get_event(conn, event_id)
            if row is None:
                return _problem(404, f"no event {event_id}")
            return event_json(row, decisions_by_event(conn, [row]))

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        s = services()

        def check() -> tuple[bool, dict[str, Any]]:
            try:
                with s.engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                current = current_revision(s.engine)
            except Exception as exc:
                return False, {"database": "unreachable", "error": str(exc).splitlines()[0]}
            if current != s.head:
                return False, {
                    "database": "reachable",
                    "schema": current,
                    "expected": s.head,
                    "fix": "run: infobip-events db upgrade",
                }
            return True, {"database": "reachable", "schema": current}

        ok, detail = await run_in_threadpool(check)
        return JSONResponse(
            {"status": "ready" if ok else "not ready", **detail}, 200 if ok else 503
        )

    def get_call(request: Request, s: Services) -> Any:
        call_id = request.path_params["call_id"]
        with s.engine.connect() as conn:
            row = queries.get_call(conn, call_id)
            if row is None:
                return _problem(404, f"no call {call_id!r}")
            timeline = queries.timeline(conn, "calls", call_id)
        return call_json(row, timeline)

    def get_lookups(request: Request, s: Services) -> Any:
        number = request.path_params["number"]
        try:
            digits = wire(phone_key(number, settings.default_region))
        except ContactError as exc:
            return _problem(422, f"number: {exc}", field="number")
        try:
            limit = int(request.query_params.get("limit", "20"))
        except ValueError as exc:
            raise _BadQuery(str(exc)) from None
        with s.engine.connect() as conn:
            rows = queries.lookups_for(conn, digits, max(1, min(limit, MAX_PAGE)))
        if not rows:
            return _problem(404, f"no lookup for {digits}")
        items = [lookup_json(r) for r in rows]
        return {"number": digits, "latest": items[0], "history": items}

    def list_sessions(request: Request, s: Services) -> Any:
        include_ended = request.query_params.get("all", "").lower() in ("1", "true", "yes")
        return {"items": s.masking.list(include_ended)}

    def get_session(request: Request, s: Services) -> Any:
        found = s.masking.get(request.path_params["session_id"])
        return found if found is not None else _problem(404, "no such masking session")

    def end_session(request: Request, s: Services) -> Any:
        session_id = request.path_params["session_id"]
        if not s.masking.end(session_id):
            return _problem(404, "no live masking session with this id")
        return s.masking.get(session_id)

    async def create_session(request: Request) -> Response:
        denied = _reader_denied(request)
        if denied is not None:
            return denied
        doc = await _json_object(request)
        if doc is None:
            return _problem(
                400, "send a JSON object: party_a, party_b, masking_number, ttl_seconds"
            )
        missing = [k for k in ("party_a", "party_b", "masking_number") if not doc.get(k)]
        if missing:
            return _problem(400, f"missing: {', '.join(missing)}")
        try:
            expires = parse_since(doc["expires_at"]) if doc.get("expires_at") else None
            ttl = int(doc["ttl_seconds"]) if doc.get("ttl_seconds") is not None else None
            created = await run_in_threadpool(
                services().masking.create,
                str(doc["party_a"]),
                str(doc["party_b"]),
                str(doc["masking_number"]),
                ttl_seconds=ttl,
                expires_at=expires,
            )
        except ContactError as exc:
            return _problem(422, str(exc), field=str(exc).split(":", 1)[0])
        except (ValueError, TypeError) as exc:
            return _problem(400, str(exc))
        return JSONResponse(created, status_code=201)

    def get_action(request: Request, s: Services) -> Any:
        action_id = request.path_params["action_id"]
        with s.engine.connect() as conn:
            row = queries.get_action(conn, action_id)
        return action_json(row) if row else _problem(404, f"no action {action_id!r}")

    def list_actions(request: Request, s: Services) -> Any:
        state = request.query_params.get("state")
        if state and state not in ACTION_STATES:
            raise _BadQuery(f"state must be one of {', '.join(ACTION_STATES)}")
        _, _, limit = _list_query(request, ())
        cursor = request.query_params.get("cursor")
        with s.engine.connect() as conn:
            rows = queries.list_actions(conn, state, cursor, limit)
        items = [action_json(r) for r in rows]
        return {"items": items, "next_cursor": rows[-1].id if len(rows) == limit else None}

    async def send(request: Request) -> Response:
        denied = _reader_denied(request)
        if denied is not None:
            return denied
        doc = await _json_object(request)
        if doc is None:
            return _problem(400, "send a JSON object: channel, to, text, ...")
        try:
            action_key, values = send_request(doc)
        except ValueError as exc:
            return _problem(400, str(exc))
        s = services()
        key = request.headers.get("idempotency-key") or new_id()
        try:
            values = prepare(s.catalogue[action_key], values, settings.default_region)
        except ContactError as exc:
            return _problem(422, str(exc), field="to")

        def enqueue_it() -> tuple[str, bool] | str:
            now = datetime.now(UTC)
            with write_transaction(s.engine) as conn:
                probe = {"id": "api", "action": action_key, "input": values}
                refused = refusals(conn, [probe], s.catalogue, s.policy, now, "api")
                if refused:
                    return refused["api"]  # the refusal is in the audit trail
                return enqueue(
                    conn,
                    s.catalogue,
                    action_key,
                    values,
                    idempotency_key=f"send:{key}",
                    max_attempts=settings.dispatch_max_attempts,
                    region=settings.default_region,
                )

        queued = await run_in_threadpool(enqueue_it)
        if isinstance(queued, str):
            return _problem(
                409,
                f"{values['to']} opted out of {doc.get('channel')}: not sent ({queued})",
                see="/v1/opt-outs",
            )
        action_id, created = queued
        if s.dispatcher is not None:
            s.dispatcher.wake()
        return JSONResponse(
            {"id": action_id, "action": action_key, "created": created},
            status_code=202,
            headers={"Location": f"/v1/actions/{action_id}"},
        )

    def list_optouts(request: Request, s: Services) -> Any:
        channel = request.query_params.get("channel")
        contact = request.query_params.get("contact")
        _, _, limit = _list_query(request, ())
        with s.engine.connect() as conn:
            if contact:
                try:
                    key = contact_key(contact, settings.default_region)
                except ContactError as exc:
                    return _problem(422, f"contact: {exc}", field="contact")
                channel = channel or ("email" if "@" in key else "sms")
                covered = s.policy.channels(channel)
                return {
                    "channel": channel,
                    "contact": key,
                    "opted_out": key in s.policy.blocked(conn, channel, [key]),
                    "scope": s.policy.scope_of(channel),
                    "applies_to": list(covered),
                    "history": [audit_json(r) for r in opt_out_history(conn, covered, key)],
                }
            rows = queries.list_opt_outs(conn, channel, limit)
        return {"items": [optout_json(r, s.policy) for r in rows]}

    async def change_optout(request: Request) -> Response:
        denied = _reader_denied(request)
        if denied is not None:
            return denied
        if request.method == "POST":
            doc = await _json_object(request)
            if doc is None or not doc.get("contact"):
                return _problem(400, "send a JSON object: contact, channel (default sms)")
            contact, channel, opted_out = str(doc["contact"]), str(doc.get("channel", "sms")), True
        else:
            contact = request.path_params["contact"]
            channel, opted_out = request.query_params.get("channel", "sms"), False
        s = services()
        try:
            key = contact_key(contact, settings.default_region)
        except ContactError as exc:
            return _problem(422, f"contact: {exc}", field="contact")

        def change() -> dict[str, Any]:
            with write_transaction(s.engine) as conn:
                s.policy.record(conn, channel, key, opted_out, datetime.now(UTC), source="api")
            return {
                "channel": channel,
                "contact": key,
                "opted_out": opted_out,
                "scope": s.policy.scope_of(channel),
                "applies_to": list(s.policy.channels(channel)),
            }

        result = await run_in_threadpool(change)
        return JSONResponse(result, status_code=201 if opted_out else 200)

    def list_reviews(request: Request, s: Services) -> Any:
        state = request.query_params.get("state", "pending")
        if state not in (*REVIEW_STATES, "all"):
            raise _BadQuery(f"state must be one of {', '.join(REVIEW_STATES)} or all")
        _, _, limit = _list_query(request, ())
        with s.engine.connect() as conn:
            rows = queries.list_opt_out_reviews(conn, None if state == "all" else state, limit)
        return {"items": [review_json(r) for r in rows]}

    async def decide_review(request: Request) -> Response:
        denied = _reader_denied(request)
        if denied is not None:
            return denied
        doc = await _json_object(request)
        decision = (doc or {}).get("decision")
        if decision not in ("confirm", "dismiss"):
            return _problem(400, 'send {"decision": "confirm"} or {"decision": "dismiss"}')
        s = services()
        review_id = request.path_params["review_id"]

        def decide() -> dict[str, Any]:
            with write_transaction(s.engine) as conn:
                state = s.policy.decide(
                    conn, review_id, decision == "confirm", datetime.now(UTC), by="api"
                )
            return {"id": review_id, "state": state}

        try:
            return JSONResponse(await run_in_threadpool(decide))
        except ReviewError as exc:
            return _problem(409 if "already" in str(exc) else 404, str(exc))

    def list_reconcile_runs(request: Request, s: Services) -> Any:
        _, _, limit = _list_query(request, ())
        with s.engine.connect() as conn:
            rows = queries.list_runs(conn, limit)
        return {"items": [run_json(r) for r in rows]}

    routes = [
        Route("/v1/webhooks/{webhook_id}", reader(get_webhook), methods=["GET"]),
        Route("/v1/messages/{message_id:path}", reader(get_message), methods=["GET"]),
        Route("/v1/messages", reader(list_messages), methods=["GET"]),
        Route("/v1/events", reader(list_events), methods=["GET"]),
        Route("/v1/events/{event_id}", reader(get_event), methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/v1/calls/{call_id}", reader(get_call), methods=["GET"]),
        Route("/v1/send", send, methods=["POST"]),
        Route("/v1/reconcile/runs", reader(list_reconcile_runs), methods=["GET"]),
        Route("/v1/opt-outs", reader(list_optouts), methods=["GET"]),
        Route("/v1/opt-outs", change_optout, methods=["POST"]),
        Route("/v1/opt-outs/review", reader(list_reviews), methods=["GET"]),
        Route("/v1/opt-outs/review/{review_id}", decide_review, methods=["POST"]),
        Route("/v1/opt-outs/{contact}", change_optout, methods=["DELETE"]),
        Route("/v1/actions", reader(list_actions), methods=["GET"]),
        Route("/v1/actions/{action_id}", reader(get_action), methods=["GET"]),
        Route("/v1/lookups/{number}", reader(get_lookups), methods=["GET"]),
        Route("/v1/masking/sessions", reader(list_sessions), methods=["GET"]),
        Route("/v1/masking/sessions", create_session, methods=["POST"]),
        Route("/v1/masking/sessions/{session_id}", reader(get_session), methods=["GET"]),
        Route("/v1/masking/sessions/{session_id}", reader(end_session), methods=["DELETE"]),
    ]
    framework = Starlette(routes=routes, lifespan=lifespan)
    framework.state.services = services

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if receiver.handles(scope):
            await receiver(scope, receive, send)
        else:
            await framework(scope, receive, send)

    return app


class _BadQuery(ValueError):
    pass


async def _json_object(request: Request) -> dict[str, Any] | None:
    """The request's JSON object, or None when the body is not one."""
    try:
        doc = await request.json()
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _is_loopback(ip: str | None) -> bool:
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _list_query(request: Request, names: tuple[str, ...]) -> tuple[dict[str, Any], int | None, int]:
    params = request.query_params
    filters: dict[str, Any] = {name: params.get(name) for name in names}
    for name in ("since", "until"):
        if params.get(name):
            try:
                filters[name] = parse_since(params[name])
            except ValueError as exc:
                raise _BadQuery(f"{name}: {exc}") from None
    try:
        limit = int(params.get("limit", "50"))
    except ValueError:
        raise _BadQuery("limit must be a whole number") from None
    if not 1 <= limit <= MAX_PAGE:
        raise _BadQuery(f"limit must be between 1 and {MAX_PAGE}")
    cursor: int | None = None
    if params.get("cursor"):
        try:
            cursor = int(params["cursor"])
        except ValueError:
            raise _BadQuery("cursor must be the next_cursor of a previous page") from None
    return filters, cursor, limit


def _page(items: list[dict[str, Any]], rows: list[Row[Any]], limit: int) -> dict[str, Any]:
    next_cursor = str(rows[-1].id) if len(rows) == limit else None
    return {"items": items, "next_cursor": next_cursor}

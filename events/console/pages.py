"""The console's pages: each reads through the storage queries (bounded: a window, a LIMIT)
and names its template with what it shows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection
from starlette.datastructures import QueryParams
from starlette.requests import Request

from events.api.common import BadQuery
from events.api.messages import decisions_by_event
from events.channels.registry import CHANNEL_PATHS
from events.console.overview import DEFAULT_WINDOW, OUTCOMES, WINDOWS, figures
from events.console.render import Missing
from events.contacts import ContactError, contact_key, wire
from events.services import Services
from events.times import parse_since
from storage.ids import id_floor
from storage.models import ACTION_STATES, RAW_STATES
from storage.queries import console as console_q
from storage.queries import decisions as decisions_q
from storage.queries import messages as messages_q
from storage.queries import optouts as optouts_q
from storage.queries import outbox as outbox_q
from storage.queries import raw as raw_q
from storage.queries import reconcile as reconcile_q
from storage.queries.messages import StoredMessage

PAGE = 50
BODY_SHOWN = 256 * 1024
# Header names whose values are never shown (credentials a sender or a proxy may add).
SECRET_HEADER_WORDS = ("authorization", "cookie", "token", "secret", "signature", "password", "key")
RETRYABLE = ("failed", "dead", "unknown_outcome")
Page = tuple[str, dict[str, Any]]


def overview(request: Request, s: Services) -> Page:
    window = request.query_params.get("window") or DEFAULT_WINDOW
    if window not in WINDOWS:
        raise BadQuery(f"window must be one of {', '.join(WINDOWS)}")
    span, unit = WINDOWS[window]
    now = datetime.now(UTC)
    since = now - span
    with s.engine.connect() as conn:
        counts = console_q.traffic(conn, since, unit)
        waiting = console_q.backlog(conn)
    rows = figures(counts, since, now, unit)
    context = {"window": window, "windows": list(WINDOWS), "rows": rows, "backlog": waiting}
    return "overview.html", {**context, "outcomes": OUTCOMES, "since": since}


def _time(params: QueryParams, name: str) -> datetime | None:
    value = (params.get(name) or "").strip()
    if not value:
        return None
    try:
        return parse_since(value)
    except ValueError as exc:
        raise BadQuery(f"{name}: {exc}") from None


def raw_filter(params: QueryParams) -> console_q.RawFilter:
    state = params.get("state") or None
    if state is not None and state not in RAW_STATES:
        raise BadQuery(f"state must be one of {', '.join(RAW_STATES)}")
    since, until = _time(params, "since"), _time(params, "until")
    return console_q.RawFilter(
        channel=params.get("channel") or None,
        state=state,
        since=since,
        until=until,
        min_id=id_floor(since) if since else None,
        # An id and its received_at are read off the clock a moment apart: a second's slack.
        max_id=id_floor(until + timedelta(seconds=1)) if until else None,
    )


def webhooks(request: Request, s: Services) -> Page:
    params = request.query_params
    where = raw_filter(params)
    with s.engine.connect() as conn:
        rows = console_q.list_raw(conn, where, params.get("cursor") or None, PAGE)
    keep = {k: v for k, v in params.items() if k != "cursor" and v}
    return "webhooks.html", {
        "rows": rows,
        "filters": keep,
        "channels": sorted(CHANNEL_PATHS),
        "states": RAW_STATES,
        "next_cursor": rows[-1].id if len(rows) == PAGE else None,
    }


def shown_headers(headers: dict[str, str]) -> list[tuple[str, str]]:
    def shown(name: str, value: str) -> str:
        secret = any(word in name.lower() for word in SECRET_HEADER_WORDS)
        return "(hidden)" if secret else value

    return [(name, shown(name, value)) for name, value in sorted(headers.items())]


def shown_body(body: bytes) -> str:
    """The body as text: JSON indented, anything else as it came (cut at BODY_SHOWN)."""
    text = body[:BODY_SHOWN].decode("utf-8", errors="replace")
    if len(body) <= BODY_SHOWN:
        try:
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    return text + (f"\n… ({len(body) - BODY_SHOWN} more bytes)" if len(body) > BODY_SHOWN else "")


def webhook(request: Request, s: Services) -> Page:
    raw_id = request.path_params["webhook_id"]
    with s.engine.connect() as conn:
        row = raw_q.get_raw(conn, raw_id)
        if row is None:
            raise Missing(f"no webhook {raw_id!r}")
        made = messages_q.events_for_raw(conn, raw_id)
        decided = decisions_by_event(conn, made)
    return "webhook.html", {
        "raw": row,
        "body": shown_body(row.body),
        "headers": shown_headers(row.headers),
        "events": made,
        "decisions": decided,
        "done": request.query_params.get("done"),
    }


def writings(query: str, region: str | None) -> list[str]:
    """The ways a contact may be stored: as typed, as its key, as Infobip writes it."""
    out = {query, query.casefold()}
    try:
        key = contact_key(query, region)
    except ContactError:
        return sorted(out)
    return sorted(out | {key, wire(key)})


def _message_context(conn: Connection, row: StoredMessage) -> dict[str, Any]:
    timeline = messages_q.timeline(conn, row.channel, row.message_id)
    action = outbox_q.get_action(conn, row.action_id) if row.action_id else None
    return {
        "message": row,
        "timeline": timeline,
        "decisions": decisions_by_event(conn, timeline),
        "tags": decisions_q.tags_of(conn, row.channel, row.message_id),
        "action": action,
    }


def messages(request: Request, s: Services) -> Page:
    """Search by message id (one found: its page) or by number (its messages)."""
    query = (request.query_params.get("q") or "").strip()
    if not query:
        return "messages.html", {"q": "", "found": [], "searched": False}
    with s.engine.connect() as conn:
        by_id = console_q.messages_with_id(conn, query)
        if len(by_id) == 1:
            return "message.html", _message_context(conn, by_id[0])
        found = by_id or console_q.messages_of_contact(
            conn, writings(query, s.settings.default_region), 100
        )
    return "messages.html", {"q": query, "found": found, "searched": True}


def message(request: Request, s: Services) -> Page:
    channel = request.path_params["channel"]
    message_id = request.path_params["message_id"]
    with s.engine.connect() as conn:
        rows = messages_q.get_messages(conn, message_id, channel)
        if not rows:
            raise Missing(f"no {channel} message {message_id!r}")
        return "message.html", _message_context(conn, rows[0])


def actions(request: Request, s: Services) -> Page:
    state = request.query_params.get("state") or None
    if state is not None and state not in ACTION_STATES:
        raise BadQuery(f"state must be one of {', '.join(ACTION_STATES)}")
    cursor = request.query_params.get("cursor") or None
    with s.engine.connect() as conn:
        rows = outbox_q.list_actions(conn, state, cursor, PAGE)
        waiting = console_q.backlog(conn)
    return "actions.html", {
        "rows": rows,
        "state": state,
        "states": ACTION_STATES,
        "counts": waiting.actions,
        "retryable": RETRYABLE,
        "next_cursor": rows[-1].id if len(rows) == PAGE else None,
    }


def dead_letters(_request: Request, s: Services) -> Page:
    with s.engine.connect() as conn:
        dead = outbox_q.list_actions(conn, "dead", None, 100)
        unknown = outbox_q.list_actions(conn, "unknown_outcome", None, 100)
        failed = console_q.list_raw(conn, console_q.RawFilter(state="failed"), None, 100)
    return "dead_letters.html", {"dead": dead, "unknown": unknown, "failed": failed}


def opt_outs(request: Request, s: Services) -> Page:
    query = (request.query_params.get("contact") or "").strip()
    history: list[optouts_q.StoredAudit] | None = None
    with s.engine.connect() as conn:
        if query:
            try:
                key = contact_key(query, s.settings.default_region)
            except ContactError as exc:
                raise BadQuery(f"contact: {exc}") from None
            channel = "email" if "@" in key else "sms"
            history = optouts_q.opt_out_history(conn, s.policy.channels(channel), key)
        entries = optouts_q.list_opt_outs(conn, None, 100)
        trail = console_q.recent_audit(conn, None, 100)
    return "opt_outs.html", {
        "contact": query,
        "history": history,
        "entries": entries,
        "trail": trail,
    }


def reconcile_runs(_request: Request, s: Services) -> Page:
    with s.engine.connect() as conn:
        runs = reconcile_q.list_runs(conn, 100)
    return "reconcile.html", {"runs": runs}

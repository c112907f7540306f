"""Table-driven channel tests: fixture -> expected fields, then the same fixture end to end."""

from __future__ import annotations

from typing import Any

from events.channels.event import ParsedEvent
from events.channels.registry import PARSERS
from tests.conftest import content_type_of, drain, fixture_bytes, post


def field_of(event: ParsedEvent, name: str) -> Any:
    """A dotted field of a parsed event: 'status.group_id', 'price.amount', 'data.text'."""
    value: Any = event
    for part in name.split("."):
        if isinstance(value, list):
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            value = getattr(value, part)
    return value


def check_parse(channel: str, fixture: str, expected: list[dict[str, Any]]) -> None:
    result = PARSERS[channel](fixture_bytes(fixture), content_type_of(fixture))
    assert result.item_errors == []
    assert len(result.events) == len(expected), [e.kind for e in result.events]
    for event, want in zip(result.events, expected, strict=True):
        got = {name: field_of(event, name) for name in want}
        assert got == want
        assert event.kind != "unknown"
        for stamp in ("occurred_at", "sent_at", "done_at", "seen_at"):
            value = getattr(event, stamp)
            assert value is None or value.tzinfo is not None, f"{stamp} is naive"


def check_end_to_end(
    client: Any,
    processor: Any,
    channel: str,
    fixture: str,
    expected: list[dict[str, Any]],
    states: dict[str, str],
) -> None:
    """Post the fixture to its channel path, process it, and read it back."""
    response = post(client, channel, fixture_bytes(fixture), content_type_of(fixture))
    assert response.status_code == 200, response.text
    webhook_id = response.headers["x-webhook-id"]
    drain(processor)
    raw = client.get(f"/v1/webhooks/{webhook_id}").json()
    assert raw["state"] == "processed", raw["error"]
    assert [e["kind"] for e in raw["events"]] == [w["kind"] for w in expected if "kind" in w]
    for message_id, state in states.items():
        message = client.get(f"/v1/messages/{message_id}", params={"channel": channel}).json()
        assert message["state"] == state, message
        assert any(e["webhook_id"] == webhook_id for e in message["events"])


Case = tuple[str, str, list[dict[str, Any]], dict[str, str]]


def channel_tests(channel: str, cases: list[Case]) -> tuple[Any, Any]:
    """The two table-driven tests every channel has: each fixture parses to its expected
    fields, and the same fixture is stored, processed and readable through the read API."""
    import pytest

    params = pytest.mark.parametrize(
        ("label", "fixture", "expected", "states"), cases, ids=[c[0] for c in cases]
    )

    @params
    def parses(
        label: str, fixture: str, expected: list[dict[str, Any]], states: dict[str, str]
    ) -> None:
        check_parse(channel, fixture, expected)

    @params
    def end_to_end(
        client: Any,
        processor: Any,
        label: str,
        fixture: str,
        expected: list[dict[str, Any]],
        states: dict[str, str],
    ) -> None:
        check_end_to_end(client, processor, channel, fixture, expected, states)

    return parses, end_to_end

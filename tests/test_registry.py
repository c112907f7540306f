"""Every channel path of the contract has a parser, fixtures for each of its kinds, and every
fixture parses to the kinds expected; /webhooks/auto gives the same records as each path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from events.channels.registry import CHANNEL_PATHS, PARSERS
from storage.models import events, messages
from tests.conftest import FIXTURES, content_type_of, drain, fixture_bytes, post

# DESIGN.md's table of channel paths, and the kinds each must show in its fixtures.
EXPECTED_KINDS: dict[str, set[str]] = {
    "sms": {"delivery", "inbound", "click"},
    "mms": {"delivery", "inbound", "click"},
    "whatsapp": {
        "delivery",
        "seen",
        "inbound",
        "template_update",
        "identity_change",
        "marketing_preference",
        "payment",
    },
    "viber": {"delivery", "seen", "inbound"},
    "email": {
        "delivery",
        "open",
        "click",
        "unsubscribe",
        "complaint",
        "late_bounce",
        "email_platform",
        "inbound",
    },
    "voice": {"delivery"},
    "calls": {"call"},
    "push": {"delivery"},
    "rcs": {"delivery", "inbound", "typing"},
    "messages-api": {"delivery", "seen", "inbound", "typing"},
    "omni": {"delivery", "seen"},
    "webrtc": {"call_link"},
    "number-masking": {"masking_callback", "masking_status"},
    "number-lookup": {"number_lookup"},
}


def fixtures_of(channel: str) -> list[str]:
    folder = FIXTURES / channel
    return sorted(
        f"{channel}/{p.name}"
        for p in folder.iterdir()
        if p.suffix in (".json", ".xml", ".bin") and p.name != "inbound_form_fields.json"
    )


ALL_FIXTURES = [f for channel in sorted(EXPECTED_KINDS) for f in fixtures_of(channel)]


def test_every_channel_path_has_a_parser() -> None:
    assert set(EXPECTED_KINDS) <= CHANNEL_PATHS
    assert set(EXPECTED_KINDS) | {"auto"} == set(PARSERS)


@pytest.mark.parametrize("channel", sorted(EXPECTED_KINDS))
def test_every_kind_of_each_channel_has_a_fixture_that_parses_to_it(channel: str) -> None:
    kinds: set[str] = set()
    for fixture in fixtures_of(channel):
        result = PARSERS[channel](fixture_bytes(fixture), content_type_of(fixture))
        assert result.item_errors == [], fixture
        assert all(e.kind != "unknown" for e in result.events), fixture
        kinds |= {e.kind for e in result.events}
    assert kinds == EXPECTED_KINDS[channel]


def _records(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                events.c.kind,
                events.c.channel,
                events.c.message_id,
                events.c.sub_type,
                events.c.status_id,
                events.c.occurred_at,
                events.c.channel_uncertain,
            ).order_by(events.c.id)
        ).all()
    return [tuple(r) for r in rows]


@pytest.mark.parametrize("fixture", ALL_FIXTURES)
def test_auto_path_gives_the_same_records_as_the_channel_path(
    client: Any, processor: Any, engine: Engine, fixture: str
) -> None:
    channel = fixture.split("/")[0]
    body, content_type = fixture_bytes(fixture), content_type_of(fixture)
    assert post(client, channel, body, content_type).status_code == 200
    drain(processor)
    own = _records(engine)
    with engine.begin() as conn:
        conn.execute(events.delete())
        conn.execute(messages.delete())
    assert post(client, "auto", body, content_type).status_code == 200
    drain(processor)
    auto = _records(engine)
    assert len(auto) == len(own)
    for a, o in zip(auto, own, strict=True):
        if a[-1]:  # a shared-shape report: it says it is uncertain, the rest is the same
            assert a[0] == o[0] and a[2:6] == o[2:6]
        else:
            assert a == o


def test_auto_uses_a_callback_data_hint_for_shared_shape_reports(
    client: Any, processor: Any
) -> None:
    body = fixture_bytes("viber/dlr_delivered.json").replace(
        b'"Callback data"', b'"order=42;channel=viber"'
    )
    post(client, "auto", body)
    drain(processor)
    message = client.get("/v1/messages/2250be2d4219-3af1-78856-aabe-1362af1edfd2").json()
    assert (message["channel"], message["channel_uncertain"]) == ("viber", False)


def test_auto_uses_the_message_already_known_by_its_id(client: Any, processor: Any) -> None:
    seen = fixture_bytes("viber/seen.json")
    first = fixture_bytes("viber/dlr_delivered.json").replace(
        b"2250be2d4219-3af1-78856-aabe-1362af1edfd2", b"1215f543ab19-345f-adbd-12ad31451ed25f35"
    )
    post(client, "viber", first)
    drain(processor)
    post(client, "auto", seen)
    drain(processor)
    message = client.get("/v1/messages/1215f543ab19-345f-adbd-12ad31451ed25f35").json()
    assert message["channel"] == "viber"
    assert [e["kind"] for e in message["events"]] == ["delivery", "seen"]
    assert message["events"][1]["channel_uncertain"] is False


def test_auto_shared_shape_without_hint_says_it_is_uncertain(client: Any, processor: Any) -> None:
    post(client, "auto", fixture_bytes("push/dlr_legacy_v1_delivered.json"))
    drain(processor)
    message = client.get("/v1/messages/ff4804ef-6ab6-4abd-984d-ab3b1387e852").json()
    assert message["channel_uncertain"] is True
    assert message["events"][0]["data"]["channel_candidates"] == ["sms", "mms", "viber", "push"]


def test_readme_lists_every_channel_path() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for channel in EXPECTED_KINDS:
        assert f"`{channel}`" in readme


def test_auto_prefers_the_known_message_over_the_callback_data_hint(
    client: Any, processor: Any
) -> None:
    """The order of FACTS.md: the message already known by its id, then the hint."""
    report = fixture_bytes("viber/dlr_delivered.json")
    post(client, "sms", report)  # the service knows this id as an SMS
    drain(processor)
    hinted = (
        report.replace(b'"Callback data"', b'"channel=viber"')
        .replace(b'"DELIVERED_TO_HANDSET"', b'"DELIVERED_TO_OPERATOR"')
        .replace(b'"id": 5', b'"id": 2')
    )
    post(client, "auto", hinted)
    drain(processor)
    message = client.get("/v1/messages/2250be2d4219-3af1-78856-aabe-1362af1edfd2").json()
    assert message["channel"] == "sms"
    assert [e["channel_uncertain"] for e in message["events"]] == [False, False]
    assert message["events"][1]["data"]["channel_hint"] == "viber"

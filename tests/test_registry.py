"""Every channel path of the contract has a parser, fixtures for each of its kinds, and every
fixture parses to the kinds expected; /webhooks/auto gives the same records as each path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from events.channels.auto import AutoParser
from events.channels.registry import (
    ADDRESSES,
    ANSWERS_WITH_INSTRUCTIONS,
    AUTO,
    CHANNEL_PATHS,
    CHANNELS,
    INBOUND,
    LOGS,
    PARSERS,
    PHONE_CHANNELS,
    REPORTS,
    SEND_ACTIONS,
    TEMPLATE_SEND_ACTIONS,
)
from events.channels.spec import Auto, ChannelSpec, ItemRow, anything
from events.membrane.catalogue import ACTIONS
from events.vocabulary import Kind
from storage.models import events, messages
from tests.conftest import FIXTURES, content_type_of, drain, fixture_bytes, post

# The kinds each channel says it produces at its own path (its spec); its fixtures must show
# every one of them, and no other.
EXPECTED_KINDS: dict[str, frozenset[Kind]] = {spec.name: spec.kinds for spec in CHANNELS}


def fixtures_of(channel: str) -> list[str]:
    folder = FIXTURES / channel
    return sorted(
        f"{channel}/{p.name}"
        for p in folder.iterdir()
        if p.suffix in (".json", ".xml", ".bin") and p.name != "inbound_form_fields.json"
    )


# The fixtures of every channel that takes part in /webhooks/auto (its spec has auto rows).
AUTO_FIXTURES = [
    f
    for spec in sorted(CHANNELS, key=lambda s: s.name)
    if spec.auto
    for f in fixtures_of(spec.name)
]


def test_every_channel_path_has_a_parser() -> None:
    assert set(EXPECTED_KINDS) <= CHANNEL_PATHS
    assert set(EXPECTED_KINDS) | {AUTO} == set(PARSERS)
    assert all(PARSERS[spec.name] is spec.parser for spec in CHANNELS)


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


@pytest.mark.parametrize("fixture", AUTO_FIXTURES)
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
    """The message already known by its id first, then the hint (docs/infobip.md, Reports
    whose channel the body cannot tell)."""
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


# ---- what the specs declare, held against the catalogue and the rest -------------------------


def test_every_send_action_a_spec_names_sends_on_that_channel() -> None:
    for spec in CHANNELS:
        if spec.send is None:
            continue
        for key in (spec.send.text, spec.send.template):
            if key is not None:
                assert ACTIONS[key].sends and ACTIONS[key].channel == spec.name, key
    assert SEND_ACTIONS == {
        "sms": "send-sms-message",
        "email": "send-email",
        "whatsapp": "send-whatsapp-text-message",
        "voice": "send-voice-message-tts",
    }
    assert TEMPLATE_SEND_ACTIONS == {"whatsapp": "send-whatsapp-template-message"}


def test_every_reconcile_source_is_a_catalogue_action_or_an_api_path() -> None:
    for table in (LOGS, REPORTS, INBOUND):
        for channel, source in table.items():
            if source.kind == "action":
                assert source.target in ACTIONS, (channel, source)
            else:
                assert source.target.startswith("/"), (channel, source)
            assert source.per_minute > 0


def test_one_opt_out_covers_exactly_the_channels_addressed_by_phone_number() -> None:
    """The suppression scope `contact` (events/optouts.py) spans these: a channel joins it
    only by saying so in its spec, and this list changes with it on purpose."""
    assert {"sms", "mms", "rcs", "whatsapp", "viber", "voice"} == PHONE_CHANNELS
    assert {c for c, a in ADDRESSES.items() if a == "email"} == {"email"}


def test_only_number_masking_answers_with_instructions() -> None:
    assert {"number-masking"} == ANSWERS_WITH_INSTRUCTIONS


def _auto() -> AutoParser:
    auto = PARSERS[AUTO]
    assert isinstance(auto, AutoParser)
    return auto


def _tables(auto: AutoParser) -> list[tuple[Any, ...]]:
    return [auto.objects, auto.first, *auto.by_kind.values()]


def test_auto_candidates_of_the_shared_shapes_follow_the_registry_order() -> None:
    order = [spec.name for spec in CHANNELS]
    shared = {r.number: r.candidates for t in _tables(_auto()) for r in t if len(r.candidates) > 1}
    for candidates in shared.values():
        assert list(candidates) == sorted(candidates, key=order.index)
    # The shapes the body cannot tell apart (docs/infobip.md), first candidate first.
    assert shared[5] == ("sms", "mms")
    assert shared[16] == ("sms", "mms", "viber", "push")
    assert shared[19] == ("whatsapp", "viber")
    assert {"sms", "mms", "whatsapp", "viber", "email", "voice", "push", "rcs"} <= _auto().hints


def test_auto_tries_every_declared_row_once_in_the_order_of_their_numbers() -> None:
    auto = _auto()
    for table in _tables(auto):
        numbers = [row.number for row in table]
        assert numbers == sorted(set(numbers))
    applied = {(r.number, c) for t in _tables(auto) for r in t for c in r.candidates}
    declared = {
        (row.row, spec.name)
        for spec in CHANNELS
        if spec.auto
        for row in (*spec.auto.objects, *spec.auto.items)
    }
    assert applied == declared
    # The rows of docs/infobip.md's tables keep their places.
    assert {1, 2, 3, 4, 5, 6, 7} <= {row.number for row in auto.objects}
    assert {8, 9, 10} <= {row.number for row in auto.first}
    assert {11, 12, 13, 14, 15, 16} <= {row.number for row in auto.by_kind[Kind.DELIVERY]}
    assert {17, 18, 19} <= {row.number for row in auto.by_kind[Kind.SEEN]}
    assert {20, 21, 22, 23, 24} <= {row.number for row in auto.by_kind[Kind.INBOUND]}


def _spec(name: str, *rows: ItemRow) -> ChannelSpec:
    return ChannelSpec(
        name=name, kinds=frozenset({Kind.DELIVERY}), parser=PARSERS["sms"], auto=Auto(items=rows)
    )


def test_two_channels_may_share_a_row_number_only_as_a_shared_shape() -> None:
    def read(item: Any) -> Any:
        raise AssertionError("not read")

    def other(item: Any) -> bool:
        return True

    mine = ItemRow(3, anything, read, kind=Kind.DELIVERY)
    with pytest.raises(ValueError, match="row 3 is declared by a, b"):
        AutoParser([_spec("a", mine), _spec("b", mine)])
    shared = ItemRow(3, anything, read, kind=Kind.DELIVERY, shared=True)
    different_test = ItemRow(3, other, read, kind=Kind.DELIVERY, shared=True)
    with pytest.raises(ValueError, match="only shared rows"):
        AutoParser([_spec("a", shared), _spec("b", different_test)])
    table = AutoParser([_spec("a", shared), _spec("b", shared)])
    assert [r.candidates for r in table.by_kind[Kind.DELIVERY]] == [("a", "b")]

"""The rules and the last Number Lookup (issue 13, item 5): a `lookup` condition, read from the
record the caller loads (the engine stays pure), and SKIP_UNREACHABLE, which records an
automated send to a number known unreachable as skipped with the reason."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from events.channels.registry import SEND_ACTIONS
from events.membrane.catalogue import ACTIONS
from events.rules.engine import Facts, History, LastLookup, evaluate
from events.rules.load import RulesError, parse_rules
from events.rules.model import FIRED, SKIPPED
from storage.models import lookups, rule_decisions
from tests.conftest import drain, fixture_bytes, inbound_sms, post
from tests.ondemand.world import World, world

SENDER = "+385916242493"  # inbound_sms()'s sender
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
RULES = """
[[rules]]
name = "roaming"
when = { kind = "inbound", lookup = { roaming = true, network = ["Swisscom"] } }
do = [{ type = "reply", text = "You seem to be abroad." }]
[[rules]]
name = "thanks"
when = { kind = "inbound" }
do = [{ type = "reply", text = "Thanks, we got your message." }]
"""
CODE, SWISSCOM = frozenset({"22801"}), frozenset({"swisscom"})
ABSENT = json.loads(fixture_bytes("number-lookup/absent_subscriber_sdk_example.json"))
ROAMING = json.loads(fixture_bytes("number-lookup/query_response_roaming.json"))


def rules_of(text: str) -> Any:
    return parse_rules(
        tomllib.loads(text), catalogue_keys=tuple(ACTIONS), send_channels=tuple(SEND_ACTIONS)
    )


def inbound(lookup: LastLookup | None) -> Facts:
    return Facts(
        channel="sms",
        kind="inbound",
        direction="inbound",
        sender="41793026727",
        recipient="447860099299",
        text="hello",
        event_key="k",
        event_id=1,
        lookup=lookup,
    )


@pytest.mark.parametrize(
    ("condition", "lookup", "fires"),
    [
        ("{ reachable = false }", LastLookup(False, False, False), True),
        ("{ reachable = false }", LastLookup(True, False, False), False),
        ("{ reachable = false }", LastLookup(None, None, None), False),
        ("{ reachable = false }", None, False),  # never looked up: no lookup condition holds
        ("{ ported = true }", LastLookup(True, True, False), True),
        ("{ roaming = false }", LastLookup(True, False, True), False),
        (
            '{ network = ["swisscom", "22801"] }',
            LastLookup(True, False, False, frozenset({"22801"})),
            True,
        ),
        ('{ network = ["Salt"] }', LastLookup(True, False, False, frozenset({"swisscom"})), False),
    ],
)
def test_the_lookup_condition_reads_the_last_lookup_it_is_given(
    condition: str, lookup: LastLookup | None, fires: bool
) -> None:
    rules = rules_of(
        f'[[rules]]\nname = "r"\nwhen = {{ kind = "inbound", lookup = {condition} }}\n'
        'do = [{ type = "reply", text = "x" }]\n'
    )
    decisions = evaluate(rules, inbound(lookup), History(), NOW)
    assert [d.outcome for d in decisions] == ([FIRED] if fires else [])


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        ("{}", "say what the last lookup must show"),
        ('{ reachable = "no" }', "reachable"),
        ("{ reachble = true }", "reachble"),
    ],
)
def test_a_lookup_condition_that_cannot_be_used_is_refused_naming_it(
    condition: str, problem: str
) -> None:
    with pytest.raises(RulesError) as caught:
        rules_of(
            f'[[rules]]\nname = "r"\nwhen = {{ lookup = {condition} }}\n'
            'do = [{ type = "reply", text = "x" }]\n'
        )
    assert problem in str(caught.value)


def look_up(w: World, result: dict[str, Any]) -> None:
    w.membrane.infobip.hlr[SENDER[1:]] = result
    response = w.client.post("/v1/lookups", json={"numbers": [SENDER]})
    assert response.json()["items"][0]["source"] == "infobip"


def decided(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(rule_decisions.c.rule, rule_decisions.c.outcome, rule_decisions.c.reason)
        ).all()
    return [(r.rule, r.outcome, r.reason) for r in rows]


def replies(w: World) -> list[str]:
    return [i.get("text", "") for k, i in w.membrane.runs if k == "send-sms-message"]


def test_a_rule_on_the_senders_last_lookup_fires_in_the_pipeline(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    with world(db_url, engine, tmp_path, rules=RULES) as w:
        post(w.client, "sms", inbound_sms("hello", message_id="mo-1"))
        w.run()
        look_up(w, {k: v for k, v in ROAMING["results"][0].items() if k != "to"})
        post(w.client, "sms", inbound_sms("hello again", message_id="mo-2"))
        w.run()
        rules = [rule for rule, _, _ in decided(engine)]
        assert rules.count("thanks") == 1 and rules.count("roaming") == 1
        assert replies(w) == ["Thanks, we got your message.", "You seem to be abroad."]


def test_skip_unreachable_records_the_send_as_skipped_with_the_lookups_reason(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    with world(db_url, engine, tmp_path, rules=RULES, skip_unreachable=True) as w:
        look_up(w, {k: v for k, v in ABSENT["results"][0].items() if k != "to"})
        post(w.client, "sms", inbound_sms("hello"))
        w.run()
        [(rule, outcome, reason)] = decided(engine)
        assert (rule, outcome) == ("thanks", SKIPPED)
        assert "known unreachable" in reason and "EC_ABSENT_SUBSCRIBER" in reason
        assert replies(w) == []


def test_without_the_guard_or_with_a_stale_lookup_the_send_goes(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    with world(db_url, engine, tmp_path, rules=RULES) as w:
        look_up(w, {k: v for k, v in ABSENT["results"][0].items() if k != "to"})
        post(w.client, "sms", inbound_sms("hello"))
        w.run()
        assert [o for _, o, _ in decided(engine)] == [FIRED]
    with world(db_url, engine, tmp_path, rules=RULES, skip_unreachable=True, lookup_ttl="1h") as w:
        with engine.begin() as conn:  # the result is older than LOOKUP_TTL: not trusted
            conn.execute(
                lookups.update().values(looked_up_at=datetime.now(UTC) - timedelta(hours=2))
            )
        post(w.client, "sms", inbound_sms("hello again", message_id="mo-2"))
        drain(w.processor)
        assert [o for _, o, _ in decided(engine)] == [FIRED, FIRED]

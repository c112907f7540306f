"""Rules files: validation errors that name the rule, the field and the fix; the example file;
and the guards, in order (own numbers, opt-outs, quiet hours across DST, caps, dry run)."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from events.channels.registry import PARSERS, SEND_ACTIONS
from events.membrane.catalogue import ACTIONS
from events.rules.engine import Facts, History, evaluate
from events.rules.load import RulesError, load_rules, parse_rules
from events.rules.model import DEFERRED, DRY_RUN, FIRED, SKIPPED, SUPPRESSED
from events.rules.schema import CHANNELS, WhenTable
from events.vocabulary import Intent, Kind, State

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rules.toml"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def rules_of(text: str) -> Any:
    return parse_rules(
        tomllib.loads(text), catalogue_keys=tuple(ACTIONS), send_channels=tuple(SEND_ACTIONS)
    )


def inbound(text: str = "hello", sender: str = "41793026727", **kw: Any) -> Facts:
    return Facts(
        channel="sms",
        kind="inbound",
        direction="inbound",
        state="received",
        sender=sender,
        recipient="447860099299",
        text=text,
        event_key=text,
        **kw,
    )


BAD: list[tuple[str, str, list[str]]] = [
    (
        "unknown field with a suggestion",
        '[[rules]]\nname = "a"\nwhen = { chanel = "sms" }\ndo = [{ type = "tag", tags = ["x"] }]',
        ["rule 'a'", "when", "unknown field 'chanel'", "did you mean 'channel'"],
    ),
    ("no name", '[[rules]]\ndo = [{ type = "tag", tags = ["x"] }]', ["rules[0]", "needs a name"]),
    (
        "duplicate names",
        '[[rules]]\nname = "a"\ndo = [{ type = "tag", tags = ["x"] }]\n'
        '[[rules]]\nname = "a"\ndo = [{ type = "tag", tags = ["y"] }]',
        ["rules[1]", "used twice"],
    ),
    ("no action", '[[rules]]\nname = "a"', ["rule 'a'", "at least one action"]),
    (
        "unknown action type",
        '[[rules]]\nname = "a"\ndo = [{ type = "email_me" }]',
        ["do[0].type", "use reply, send"],
    ),
    (
        "reply without text",
        '[[rules]]\nname = "a"\ndo = [{ type = "reply" }]',
        ["do[0].text", "needs the text"],
    ),
    (
        "send on a channel we cannot send on",
        '[[rules]]\nname = "a"\ndo = [{ type = "send", channel = "fax", text = "x" }]',
        ["do[0].channel", "'fax' cannot be sent on"],
    ),
    (
        "action not in the catalogue",
        '[[rules]]\nname = "a"\ndo = [{ type = "action", key = "send-sms-mesage" }]',
        ["do[0].key", "did you mean 'send-sms-message'"],
    ),
    (
        "unknown template variable",
        '[[rules]]\nname = "a"\ndo = [{ type = "reply", text = "hi {sendr}" }]',
        ["unknown variable {sendr}", "did you mean {sender}"],
    ),
    (
        "bad regex",
        '[[rules]]\nname = "a"\nwhen = { regex = "(" }\ndo = [{ type = "tag", tags = ["x"] }]',
        ["when.regex", "not a valid regular expression"],
    ),
    (
        "bad time zone",
        '[[rules]]\nname = "a"\n'
        'quiet_hours = { start = "21:00", end = "08:00", tz = "Mars/Base" }\n'
        'do = [{ type = "tag", tags = ["x"] }]',
        ["quiet_hours.tz", "not a time zone", "Europe/Paris"],
    ),
    (
        "bad time of day",
        '[[rules]]\nname = "a"\nquiet_hours = { start = "9pm", end = "08:00" }\n'
        'do = [{ type = "tag", tags = ["x"] }]',
        ["quiet_hours.start", "HH:MM"],
    ),
    (
        "bad days",
        '[[rules]]\nname = "a"\nwhen = { within_hours = { start = "09:00", '
        'end = "17:00", days = "weekdays" } }\ndo = [{ type = "tag", tags = ["x"] }]',
        ["days", "mon-fri"],
    ),
    (
        "bad cap",
        '[[rules]]\nname = "a"\ncap = "3 per hour"\ndo = [{ type = "tag", tags = ["x"] }]',
        ["cap", "20/5m"],
    ),
    (
        "a phrase as a first word",
        '[[rules]]\nname = "a"\nwhen = { first_word = ["opt out"] }\n'
        'do = [{ type = "tag", tags = ["x"] }]',
        ["first_word", "one word", "contains"],
    ),
    (
        "bad stage",
        '[[rules]]\nname = "a"\nstage = "early"\ndo = [{ type = "tag", tags = ["x"] }]',
        ["stage", "compliance, keyword, catch_all"],
    ),
    (
        "bad duration",
        '[[rules]]\nname = "a"\nwhen = { max_age = "soon" }\ndo = [{ type = "tag", tags = ["x"] }]',
        ["max_age", "90s, 15m, 1h"],
    ),
    (
        "forward to a non-URL",
        '[[rules]]\nname = "a"\ndo = [{ type = "forward", url = "hooks.example.com" }]',
        ["do[0].url", "http(s) URL"],
    ),
]


BAD += [
    (
        "a WhatsApp send with no sender",
        '[[rules]]\nname = "a"\ndo = [{ type = "send", channel = "whatsapp", to = "41793026727", '
        'text = "x" }]',
        ["do[0].from", "needs a sender", "[senders] whatsapp"],
    ),
    (
        "an email with no subject",
        '[[rules]]\nname = "a"\ndo = [{ type = "send", channel = "email", to = "a@example.com", '
        'from = "b@example.com", text = "x" }]',
        ["do[0].subject", "needs a subject"],
    ),
    (
        "a fixed recipient that is not a number",
        '[[rules]]\nname = "a"\ndo = [{ type = "send", channel = "sms", to = "ops desk", '
        'text = "x" }]',
        ["do[0].to", "'ops desk' is not a phone number"],
    ),
    (
        "a mode in business hours, which only quiet hours have",
        '[[rules]]\nname = "a"\nwhen = { within_hours = { start = "09:00", end = "17:00", '
        'mode = "skip" } }\ndo = [{ type = "tag", tags = ["x"] }]',
        ["when.within_hours", "unknown field 'mode'", "use start, end, tz, days"],
    ),
    (
        "a sender for a channel that does not exist",
        '[senders]\nwhatsap = "x"\n[[rules]]\nname = "a"\ndo = [{ type = "tag", tags = ["x"] }]',
        ["senders.whatsap", "did you mean 'whatsapp'"],
    ),
    (
        "a negative count",
        '[[rules]]\nname = "a"\nwhen = { count = { at_least = -1 } }\n'
        'do = [{ type = "tag", tags = ["x"] }]',
        ["when.count.at_least", "0 or more, got -1"],
    ),
    (
        "an unknown top-level table",
        'limit = { global = "1/1m" }\n[[rules]]\nname = "a"\ndo = [{ type = "tag", tags = ["x"] }]',
        ["file", "unknown field 'limit'", "did you mean 'limits'"],
    ),
]


@pytest.mark.parametrize(("name", "text", "expected"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_rules_file_is_refused_with_where_and_how_to_fix(
    name: str, text: str, expected: list[str]
) -> None:
    with pytest.raises(RulesError) as error:
        rules_of(text)
    message = str(error.value)
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


WHEN_KEYS = [name for name in WhenTable.model_fields]
# A misspelt value or key: (what, the rule's `when` or `do`, the field, the value's hint, the
# values that must all be listed as allowed).
MISSPELT: list[tuple[str, str, str, str, list[str]]] = [
    ("channel", 'when = { channel = "smss" }', "when.channel", "'sms'", list(CHANNELS)),
    ("kind", 'when = { kind = "inbund" }', "when.kind", "'inbound'", [k.value for k in Kind]),
    ("state", 'when = { state = "delivred" }', "when.state", "'delivered'", list(State)),
    ("intent", 'when = { intent = "optout" }', "when.intent", "'opt_out'", list(Intent)),
    (
        "one value of a list",
        'when = { channel = ["sms", "whatsap"] }',
        "when.channel",
        "'whatsapp'",
        list(CHANNELS),
    ),
    ("a key in when", 'when = { chanel = "sms" }', "when", "'channel'", WHEN_KEYS),
    ("an action type", 'do = [{ type = "rply", text = "x" }]', "do[0].type", "'reply'", []),
    (
        "a key of an action",
        'do = [{ type = "tag", tgas = ["x"], tags = ["y"] }]',
        "do[0]",
        "'tags'",
        [],
    ),
]


@pytest.mark.parametrize(
    ("what", "snippet", "field", "hint", "allowed"), MISSPELT, ids=[m[0] for m in MISSPELT]
)
def test_a_misspelt_value_names_the_rule_the_field_and_the_allowed_values(
    what: str, snippet: str, field: str, hint: str, allowed: list[str]
) -> None:
    tag = 'do = [{ type = "tag", tags = ["x"] }]'
    do = "" if snippet.startswith("do") else f"\n{tag}"
    text = f'[[rules]]\nname = "fine"\n{tag}\n[[rules]]\nname = "prices"\n{snippet}{do}'
    with pytest.raises(RulesError) as error:
        rules_of(text)
    [problem] = error.value.problems
    assert problem.startswith(f"rule 'prices' (rules[1]): {field}: "), problem
    assert f"did you mean {hint}?" in problem
    listed = problem.rpartition(" use ")[2].split(", ")
    assert set(allowed) <= set(listed), problem
    if what == "an action type":
        assert listed == ["reply", "send", "action", "opt_out", "opt_in", "forward", "tag"]
    if what == "a key of an action":
        assert listed == ["type", "tags"]


def test_the_channels_a_rule_may_name_are_the_registrys() -> None:
    assert set(CHANNELS) == set(PARSERS) - {"auto"}
    for channel in CHANNELS:
        rules = rules_of(
            f'[[rules]]\nname = "a"\nwhen = {{ channel = "{channel}" }}\n'
            'do = [{ type = "tag", tags = ["x"] }]'
        )
        assert rules.rules[0].when.channel == frozenset({channel})


def test_vocabulary_values_are_read_in_any_case_and_kept_as_plain_strings() -> None:
    rules = rules_of(
        '[[rules]]\nname = "a"\nwhen = { channel = "SMS", kind = "Delivery", '
        'state = ["DELIVERED", "rejected"], direction = "Outbound", intent = "HELP" }\n'
        'do = [{ type = "tag", tags = ["x"] }]'
    )
    when = rules.rules[0].when
    assert when.channel == {"sms"} and when.kind == {"delivery"} and when.intent == {"help"}
    assert when.state == {"delivered", "rejected"} and when.direction == "outbound"
    for value in [*when.kind, *when.state, when.direction]:
        assert type(value) is str


def test_a_forward_needs_the_secret_only_when_the_settings_say_it_is_missing() -> None:
    text = (
        '[[rules]]\nname = "alert"\ndo = [{ type = "tag", tags = ["x"] }, '
        '{ type = "forward", url = "https://h.example/x" }]\n'
        '[[rules]]\nname = "off"\nenabled = false\n'
        'do = [{ type = "forward", url = "https://h.example/y" }]'
    )
    with pytest.raises(RulesError) as error:
        parse_rules(tomllib.loads(text), forward_secret_set=False)
    [problem] = error.value.problems
    assert problem.startswith("rule 'alert' (rules[0]): do[1]: ")
    assert "INFOBIP_EVENTS_FORWARD_HMAC_SECRET is not set" in problem
    assert parse_rules(tomllib.loads(text), forward_secret_set=True).rules[0].name == "alert"


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(RulesError) as error:
        rules_of(
            '[[rules]]\nname = "a"\nwhen = { chanel = "sms" }\ndo = [{ type = "x" }]\n'
            '[[rules]]\nname = "b"\ncap = "x"\ndo = [{ type = "reply" }]'
        )
    assert len(error.value.problems) >= 4


def test_not_toml_says_where(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("[[rules]\nname = ")
    with pytest.raises(RulesError, match="not valid TOML"):
        load_rules(path)


def test_the_example_file_loads_as_shipped() -> None:
    rules = load_rules(EXAMPLE, catalogue_keys=tuple(ACTIONS), send_channels=tuple(SEND_ACTIONS))
    assert [r.stage for r in rules.rules] == sorted(
        (r.stage for r in rules.rules), key=("compliance", "keyword", "catch_all").index
    )
    assert {r.name for r in rules.rules} >= {"prices", "whatsapp-fallback-to-sms"}


def test_stages_run_compliance_then_keywords_then_catch_alls_and_first_match_stops() -> None:
    rules = rules_of(
        '[[rules]]\nname = "catch"\nwhen = { kind = "inbound" }\n'
        'do = [{ type = "reply", text = "Thanks" }]\n'
        '[[rules]]\nname = "price"\nwhen = { first_word = ["price"] }\n'
        'do = [{ type = "reply", text = "Prices" }]\n'
        '[[rules]]\nname = "audit"\nstage = "compliance"\nmatch = "all"\n'
        'do = [{ type = "tag", tags = ["seen"] }]\n'
    )
    assert [r.name for r in rules.rules] == ["audit", "price", "catch"]
    decided = evaluate(rules, inbound("price?"), History(), NOW)
    assert [(d.rule, d.outcome) for d in decided] == [("audit", FIRED), ("price", FIRED)]
    decided = evaluate(rules, inbound("hello"), History(), NOW)
    assert [d.rule for d in decided] == ["audit", "catch"]
    # Compliance read STOP: only compliance rules see the event.
    decided = evaluate(rules, inbound("price stop", intent="opt_out"), History(), NOW)
    assert [d.rule for d in decided] == ["audit"]


def test_a_capped_keyword_rule_does_not_fall_through_to_a_catch_all() -> None:
    rules = rules_of(
        '[[rules]]\nname = "price"\ncap = "1/1h"\nwhen = { first_word = ["price"] }\n'
        'do = [{ type = "reply", text = "Prices" }]\n'
        '[[rules]]\nname = "catch"\ndo = [{ type = "reply", text = "Thanks" }]\n'
    )
    history = History()
    first = evaluate(rules, inbound("price"), history, NOW)
    second = evaluate(rules, inbound("price"), history, NOW + timedelta(minutes=1))
    assert [(d.rule, d.outcome) for d in first] == [("price", FIRED)]
    assert [(d.rule, d.outcome) for d in second] == [("price", SKIPPED)]
    assert "rule cap" in second[0].reason


def test_never_auto_reply_to_our_own_numbers() -> None:
    rules = rules_of(
        'own_numbers = ["+41 79 302 67 27"]\n[[rules]]\nname = "r"\n'
        'do = [{ type = "reply", text = "Thanks" }]'
    )
    [decision] = evaluate(rules, inbound(sender="41793026727"), History(), NOW)
    assert decision.outcome == SKIPPED and "own numbers" in decision.reason


def test_opted_out_contacts_are_suppressed_but_alerts_still_go() -> None:
    rules = rules_of(
        '[[rules]]\nname = "r"\ndo = [{ type = "reply", text = "Thanks" }]\n'
        '[[rules]]\nname = "alert"\nmatch = "all"\nstage = "compliance"\n'
        'do = [{ type = "reply", text = "x" }, '
        '{ type = "forward", url = "https://h.example/x" }]'
    )
    history = History(opted_out={("sms", "+41793026727")})
    decided = evaluate(rules, inbound(), history, NOW)
    assert [(d.rule, d.outcome) for d in decided] == [("alert", SUPPRESSED), ("r", SUPPRESSED)]
    assert [p.type for p in decided[0].planned] == ["forward"] and decided[0].executes
    assert "still done: forward" in decided[0].reason
    assert decided[1].planned == [] and not decided[1].executes


def test_identical_messages_are_capped_per_contact() -> None:
    rules = rules_of(
        '[limits]\nidentical = "3/5m"\n'
        '[[rules]]\nname = "a"\nwhen = { first_word = ["a"] }\n'
        'do = [{ type = "reply", text = "Same" }]\n'
        '[[rules]]\nname = "b"\ndo = [{ type = "reply", text = "Same" }]'
    )
    history = History()
    outcomes = [
        evaluate(rules, inbound("a" if i % 2 else "b"), history, NOW + timedelta(seconds=i))[0]
        for i in range(5)
    ]
    assert [d.outcome for d in outcomes] == [FIRED, FIRED, FIRED, SKIPPED, SKIPPED]
    assert "identical-message cap" in outcomes[3].reason
    # Another contact is not affected; and after the window, the contact gets them again.
    other = evaluate(rules, inbound("b", sender="41790000001"), history, NOW)
    assert other[0].outcome == FIRED
    later = evaluate(rules, inbound("b"), history, NOW + timedelta(minutes=6))
    assert later[0].outcome == FIRED


def test_global_cap_counts_every_contact() -> None:
    rules = rules_of(
        '[limits]\nglobal = "2/1m"\n[[rules]]\nname = "r"\n'
        'do = [{ type = "reply", text = "Hi {contact}" }]'
    )
    history = History(global_before=1)
    first = evaluate(rules, inbound(sender="41790000001"), history, NOW)
    second = evaluate(rules, inbound(sender="41790000002"), history, NOW)
    assert first[0].outcome == FIRED and second[0].outcome == SKIPPED
    assert "global cap" in second[0].reason


def test_dry_run_rules_decide_but_send_nothing() -> None:
    rules = rules_of(
        '[[rules]]\nname = "r"\ndry_run = true\ndo = [{ type = "reply", text = "Hi" }]'
    )
    [decision] = evaluate(rules, inbound(), History(), NOW)
    assert decision.outcome == DRY_RUN and not decision.acts
    assert decision.planned[0].values["text"] == "Hi"


def test_templates_take_the_event_and_reply_from_the_number_written_to() -> None:
    rules = rules_of(
        '[senders]\nsms = "InfoSMS"\n[[rules]]\nname = "r"\n'
        'do = [{ type = "reply", text = "{keyword}: got {text} from {contact}" }, '
        '{ type = "send", channel = "email", to = "ops@example.com", '
        'from = "bot@example.com", subject = "New message from {sender}", '
        'text = "{sender} wrote" }]'
    )
    [decision] = evaluate(rules, inbound("Price please"), History(), NOW)
    reply, mail = decision.planned
    assert reply.values == {
        "to": "41793026727",
        "from": "447860099299",
        "text": "PRICE: got Price please from 41793026727",
    }
    assert reply.action == "send-sms-message"
    assert mail.action == "send-email" and mail.values["to"] == "ops@example.com"
    assert mail.values["subject"] == "New message from 41793026727"


QUIET = (
    '[[rules]]\nname = "r"\nquiet_hours = { start = "22:00", end = "08:00", '
    'tz = "Europe/Paris", mode = "%s" }\ndo = [{ type = "reply", text = "Hi" }]'
)


@pytest.mark.parametrize(
    ("at", "until"),
    [
        # Winter (UTC+1): 23:00 local -> 08:00 local = 07:00 UTC.
        ("2026-01-15T22:00:00+00:00", "2026-01-16T07:00:00+00:00"),
        # The night clocks go forward (29 March 2026, 02:00 -> 03:00): 08:00 is 06:00 UTC.
        ("2026-03-28T22:30:00+00:00", "2026-03-29T06:00:00+00:00"),
        # After the change, in the small hours: still that same morning.
        ("2026-03-29T01:30:00+00:00", "2026-03-29T06:00:00+00:00"),
        # The night clocks go back (25 October 2026, 03:00 -> 02:00): 08:00 is 07:00 UTC.
        ("2026-10-24T21:30:00+00:00", "2026-10-25T07:00:00+00:00"),
        # 02:30 happens twice that night; both are quiet and end at the same 08:00.
        ("2026-10-25T00:30:00+00:00", "2026-10-25T07:00:00+00:00"),
        ("2026-10-25T01:30:00+00:00", "2026-10-25T07:00:00+00:00"),
    ],
)
def test_quiet_hours_defer_to_the_local_morning_across_daylight_saving(at: str, until: str) -> None:
    rules = rules_of(QUIET % "defer")
    [decision] = evaluate(rules, inbound(), History(), datetime.fromisoformat(at))
    assert decision.outcome == DEFERRED
    assert decision.not_before == datetime.fromisoformat(until)


@pytest.mark.parametrize(
    ("at", "quiet"),
    [
        ("2026-03-29T05:59:00+00:00", True),  # 07:59 CEST
        ("2026-03-29T06:00:00+00:00", False),  # 08:00 CEST
        ("2026-03-28T20:59:00+00:00", False),  # 21:59 CET
        ("2026-03-28T21:00:00+00:00", True),  # 22:00 CET
        ("2026-10-25T06:59:00+00:00", True),  # 07:59 CET (after the clocks went back)
        ("2026-10-25T07:00:00+00:00", False),
    ],
)
def test_quiet_hours_edges_on_daylight_saving_days(at: str, quiet: bool) -> None:
    rules = rules_of(QUIET % "skip")
    [decision] = evaluate(rules, inbound(), History(), datetime.fromisoformat(at))
    assert (decision.outcome == SKIPPED) is quiet

"""The WhatsApp window in the rules, pure: the file's new parts (template, else, text by
language, session_open, [compliance.texts]) with their errors, the engine's choices inside and
outside the window, and the language guess."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from events.rules.engine import WINDOW_FLAG, Facts, History, evaluate
from events.rules.language import guess_language
from events.rules.load import RulesError
from events.rules.model import DEFERRED, FIRED, SKIPPED
from tests.rules.test_load_and_guards import rules_of

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CONTACT, OURS = "+385919998888", "+41793026731"


def whatsapp_inbound(text: str = "hello") -> Facts:
    return Facts(
        channel="whatsapp",
        kind="inbound",
        direction="inbound",
        state="received",
        sender=CONTACT[1:],
        recipient=OURS[1:],
        text=text,
        event_key=text,
    )


def history(last_inbound: datetime | None) -> History:
    found = History()
    if last_inbound is not None:
        found.sessions[(CONTACT, "whatsapp", OURS)] = last_inbound
    return found


BAD: list[tuple[str, str, list[str]]] = [
    (
        "a template on an SMS send",
        '[[rules]]\nname = "a"\ndo = [{ type = "send", channel = "sms", text = "x", '
        'template = { name = "t" } }]',
        ["rule 'a'", "template", "a template is for WhatsApp"],
    ),
    (
        "a text table with a bad language code",
        '[[rules]]\nname = "a"\ndo = [{ type = "reply", text = { english = "x" } }]',
        ["rule 'a'", "'english' is not a language code"],
    ),
    (
        "an empty text in a table",
        '[[rules]]\nname = "a"\ndo = [{ type = "reply", text = { en = " " } }]',
        ["rule 'a'", "the text to send is empty"],
    ),
    (
        "an unknown variable in a template placeholder",
        '[[rules]]\nname = "a"\ndo = [{ type = "reply", text = "x", '
        'template = { name = "t", placeholders = ["{txt}"] } }]',
        ["rule 'a'", "unknown variable {txt}", "did you mean {text}?"],
    ),
    (
        "an else action of no known type",
        '[[rules]]\nname = "a"\ndo = [{ type = "reply", text = "x" }]\nelse = [{ type = "sms" }]',
        ["rule 'a'", "else", "is not an action type"],
    ),
    (
        "session_open that is not a boolean",
        '[[rules]]\nname = "a"\nwhen = { session_open = "yes" }\n'
        'do = [{ type = "tag", tags = ["x"] }]',
        ["rule 'a'", "session_open"],
    ),
    (
        "a compliance language that is not a code",
        '[compliance.texts.spanish]\nopt_out = "Baja"',
        ["compliance", "'spanish' is not a language code"],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_window_setting_is_named_with_the_fix(text: str, expected: list[str]) -> None:
    with pytest.raises(RulesError) as caught:
        rules_of(text)
    message = str(caught.value)
    for part in expected:
        assert part in message, message


TEMPLATE_RULE = """
[[rules]]
name = "hello"
when = { channel = "whatsapp", kind = "inbound" }
do = [{ type = "reply", text = "Hi", template = { name = "welcome", placeholders = ["{text}"] } }]
"""


def test_inside_the_window_text_goes_and_the_template_rides_along() -> None:
    [decision] = evaluate(
        rules_of(TEMPLATE_RULE), whatsapp_inbound(), history(NOW - timedelta(hours=2)), NOW
    )
    assert decision.outcome == FIRED
    [planned] = decision.planned
    assert planned.action == "send-whatsapp-text-message" and planned.values["text"] == "Hi"
    assert planned.values[WINDOW_FLAG] == {
        "template": "welcome",
        "language": "en",
        "placeholders": ["hello"],
    }
    assert "session open until 2026-11-28T10:00:00+00:00" in decision.describe()


@pytest.mark.parametrize("last", [None, NOW - timedelta(hours=24)], ids=["never", "24h-ago"])
def test_outside_the_window_the_template_goes_instead(last: datetime | None) -> None:
    [decision] = evaluate(rules_of(TEMPLATE_RULE), whatsapp_inbound(), history(last), NOW)
    assert decision.outcome == FIRED
    [planned] = decision.planned
    assert planned.action == "send-whatsapp-template-message"
    assert planned.values == {
        "to": CONTACT[1:],
        "from": OURS[1:],
        "template": "welcome",
        "language": "en",
        "placeholders": ["hello"],
    }
    assert "outside the WhatsApp 24-hour window" in decision.describe()


def test_outside_the_window_without_template_or_else_the_rule_is_skipped_with_the_reason() -> None:
    rules = rules_of(
        '[[rules]]\nname = "hi"\nwhen = { channel = "whatsapp" }\n'
        'do = [{ type = "reply", text = "Hi" }, { type = "tag", tags = ["x"] }]'
    )
    [decision] = evaluate(rules, whatsapp_inbound(), history(NOW - timedelta(days=3)), NOW)
    assert decision.outcome == SKIPPED and decision.planned == []
    assert decision.reason.startswith("outside the WhatsApp 24-hour window (it closed at")
    assert not decision.executes


def test_a_template_is_chosen_even_when_the_texts_differ_by_language() -> None:
    rules = rules_of(
        '[[rules]]\nname = "hi"\nwhen = { channel = "whatsapp" }\n'
        'do = [{ type = "reply", text = { en = "Hi", es = "Hola" }, '
        'template = { name = "w", language = "es" } }]'
    )
    [inside] = evaluate(rules, whatsapp_inbound("hola"), history(NOW), NOW)
    assert inside.planned[0].values["text"] == "Hola"
    [outside] = evaluate(rules, whatsapp_inbound("hola"), history(None), NOW)
    assert outside.planned[0].values["template"] == "w"


@pytest.mark.parametrize(("last", "fires"), [(NOW - timedelta(hours=1), "open"), (None, "closed")])
def test_session_open_is_a_condition(last: datetime | None, fires: str) -> None:
    rules = rules_of(
        '[[rules]]\nname = "open"\nwhen = { session_open = true }\n'
        'do = [{ type = "tag", tags = ["x"] }]\n'
        '[[rules]]\nname = "closed"\nwhen = { session_open = false }\n'
        'do = [{ type = "tag", tags = ["y"] }]'
    )
    assert [d.rule for d in evaluate(rules, whatsapp_inbound(), history(last), NOW)] == [fires]


def test_a_delivery_report_rule_sees_any_of_our_senders_sessions() -> None:
    rules = rules_of(
        '[[rules]]\nname = "open"\nwhen = { channel = "sms", session_open = true }\n'
        'do = [{ type = "tag", tags = ["x"] }]'
    )
    report = Facts(
        channel="sms", kind="delivery", direction="outbound", recipient=CONTACT[1:], event_key="d"
    )
    assert [d.rule for d in evaluate(rules, report, history(NOW), NOW)] == ["open"]
    assert evaluate(rules, report, history(NOW - timedelta(hours=25)), NOW) == []


def test_quiet_hours_past_the_windows_end_defer_and_say_it_is_checked_again() -> None:
    rules = rules_of(
        '[[rules]]\nname = "later"\nwhen = { channel = "whatsapp" }\n'
        'quiet_hours = { start = "11:00", end = "15:00", tz = "UTC" }\n'
        'do = [{ type = "reply", text = "Hi" }]'
    )
    [late] = evaluate(rules, whatsapp_inbound(), history(NOW - timedelta(hours=23)), NOW)
    assert late.outcome == DEFERRED and "checked again when due" in late.reason
    [fine] = evaluate(rules, whatsapp_inbound(), history(NOW - timedelta(hours=1)), NOW)
    assert fine.outcome == DEFERRED and "checked again" not in fine.reason


def test_the_else_actions_are_guarded_like_any_other() -> None:
    rules = rules_of(
        '[senders]\nsms = "InfoSMS"\n[[rules]]\nname = "hi"\nwhen = { channel = "whatsapp" }\n'
        'do = [{ type = "reply", text = "Hi" }]\n'
        'else = [{ type = "send", channel = "sms", text = "Hi by SMS" }]'
    )
    opted: Any = history(None)
    opted.opted_out.add(("sms", CONTACT))
    [decision] = evaluate(rules, whatsapp_inbound(), opted, NOW)
    assert decision.outcome == SKIPPED and decision.else_outcome == "suppressed"
    assert not decision.acts
    [sent] = evaluate(rules, whatsapp_inbound(), history(None), NOW)
    assert sent.else_outcome == FIRED and sent.acts
    assert [p.channel for p in sent.planned] == ["sms"]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Hola, quiero saber el precio", "es"),
        ("Bonjour, je voudrais un rendez-vous", "fr"),
        ("Hallo, wann ist mein Termin?", "de"),
        ("Olá, obrigado pelo pedido", "pt"),
        ("Hello, what is the price?", "en"),
        ("Привет, сколько стоит?", "ru"),
        # The Nordic languages share words: the ones only one of them uses decide.
        ("Hej, hvad koster det?", "da"),
        ("Hei, hva koster det?", "no"),
        ("Hej, vad kostar det?", "sv"),
        ("Moi, paljonko se maksaa?", "fi"),
        ("こんにちは", "ja"),
        ("12345", None),
        ("", None),
    ],
)
def test_the_language_guess_reads_short_messages(text: str, language: str | None) -> None:
    assert guess_language(text) == language

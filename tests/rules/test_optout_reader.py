"""The opt-out reader against its labelled corpus (tests/optout/), the issue's examples by name,
and properties over arbitrary text. Speed is measured by benchmarks/optout.py, not here."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.rules.optout import (
    DEFAULT_HELP_WORDS,
    DEFAULT_OPT_IN_WORDS,
    DEFAULT_OPT_OUT_WORDS,
    HELP,
    OPT_IN,
    OPT_OUT,
    OPT_OUT_UNCERTAIN,
    MessageIntent,
    Vocabulary,
    _distance,
    read_intent,
)
from tests.optout.corpus import CATEGORIES, LABELS, Row, load

ROWS = load()
LANGUAGES = ["en", "es", "fr", "de", "it", "pt", "nl", "pl", "tr", "ru"]
LANGUAGES += ["sv", "da", "no", "fi", "ro", "cs", "ja", "zh", "ar", "id"]


def kind(text: str) -> str:
    intent = read_intent(text)
    return "none" if intent is None else intent.kind


def rows(lang: str | None = None, label: str | None = None) -> list[Row]:
    return [
        r for r in ROWS if (lang is None or r.lang == lang) and (label is None or r.label == label)
    ]


# --- the corpus itself -----------------------------------------------------------------------


def test_the_corpus_has_a_thousand_messages_in_every_language_and_category() -> None:
    assert len(ROWS) >= 1000
    assert set(Counter(r.lang for r in ROWS)) == set(LANGUAGES)
    assert set(Counter(r.category for r in ROWS)) == set(CATEGORIES)
    assert {r.label for r in ROWS} == set(LABELS)
    assert all(r.source and r.text.strip() for r in ROWS)
    assert len(rows(label="none")) >= 300  # look-alikes: at least ~300


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_has_keywords_requests_look_alikes_and_doubts(lang: str) -> None:
    labels = Counter(r.label for r in rows(lang))
    assert labels["opt_out"] >= 20 and labels["none"] >= 10
    assert labels["opt_out_uncertain"] >= 2 and labels["opt_in"] >= 1 and labels["help"] >= 1


# --- recall and false opt-outs ---------------------------------------------------------------


def test_recall_is_at_least_95_percent_over_all_languages() -> None:
    positives = rows(label="opt_out")
    read = sum(kind(r.text) == OPT_OUT for r in positives)
    assert read / len(positives) >= 0.95


@pytest.mark.parametrize("lang", LANGUAGES)
def test_recall_is_at_least_95_percent_in_each_language(lang: str) -> None:
    positives = rows(lang, "opt_out")
    missed = [r.text for r in positives if kind(r.text) != OPT_OUT]
    assert (len(positives) - len(missed)) / len(positives) >= 0.95, missed


@pytest.mark.parametrize("lang", LANGUAGES)
def test_nothing_that_is_not_an_opt_out_opts_anyone_out(lang: str) -> None:
    wrong = [r.text for r in rows(lang) if r.label != OPT_OUT and kind(r.text) == OPT_OUT]
    assert wrong == []


def test_look_alikes_are_rarely_held_as_uncertain() -> None:
    negatives = rows(label="none")
    held = [r.text for r in negatives if kind(r.text) == OPT_OUT_UNCERTAIN]
    assert len(held) <= len(negatives) // 100, held  # at most 1 % suppressed for a person to see


def test_most_doubtful_messages_are_held_for_a_person() -> None:
    doubtful = rows(label="opt_out_uncertain")
    held = sum(kind(r.text) == OPT_OUT_UNCERTAIN for r in doubtful)
    assert held / len(doubtful) >= 0.9


@pytest.mark.parametrize("row", rows(label="opt_in") + rows(label="help"), ids=lambda r: r.text)
def test_start_and_help_are_read_in_every_language(row: Row) -> None:
    assert kind(row.text) == {"opt_in": OPT_IN, "help": HELP}[row.label]


# --- the issue's examples, by name -----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "could you stop sending these",
        "remove my number from your list",
        "I would rather not get these messages any more",
        "no thanks, unsubscribe me please",
        "quit messaging me",
        "this is not my phone, take the number off",
        "STOPPPP",
        "S-T-O-P",
        "st op",
        "Stop!!! Stop!!!",
        "STOP 🛑",
        "stop ✋",
        "Stop ⛔",
        "STOP 🚫",
        "unsubsribe",
        "unsusbcribe",
    ],
)
def test_the_issue_opt_outs_opt_out(text: str) -> None:
    assert kind(text) == OPT_OUT


@pytest.mark.parametrize(
    "text",
    [
        "don't stop the music",
        "stop at the gate, I'll meet you there",
        "we never stop improving",
        "could I cancel the order I placed?",
        "the end is near lol",
        "is the bus stop far from you",
    ],
)
def test_the_issue_look_alikes_are_ordinary_messages(text: str) -> None:
    assert read_intent(text) is None  # not an opt-out, and not held as uncertain either


@pytest.mark.parametrize(
    "text",
    [
        "where do I unsubscribe from this?",
        "please leave me be",
        "how do I stop these?",
        "who is this? stop",
        "¿Cómo me doy de baja?",
        "怎么退订？",
        "T",
    ],
)
def test_messages_that_probably_ask_to_stop_are_uncertain(text: str) -> None:
    assert kind(text) == OPT_OUT_UNCERTAIN


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("baja por favor", "es"),
        ("ARRÊT", "fr"),
        ("Stop bitte", "de"),
        ("stop please", "en"),
        ("СТОП", "ru"),
        ("配信停止してください", "ja"),
        ("回复TD退订", "zh"),
        ("إلغاء الاشتراك", "ar"),
        ("Tolong berhenti kirim SMS ke saya", "id"),
        ("Ik wil geen berichten meer ontvangen", "nl"),
        ("STOP", None),
    ],
)
def test_the_language_read_is_told(text: str, language: str | None) -> None:
    intent = read_intent(text)
    assert intent is not None and intent.kind == OPT_OUT and intent.language == language


def test_russian_stop_reads_russian_and_russian_look_alikes_do_not_opt_out() -> None:
    assert read_intent("стоп") == MessageIntent(OPT_OUT, "стоп", "ru")
    assert read_intent("ѕтор") == MessageIntent(
        OPT_OUT, "ѕтор", None
    )  # Latin "stop" in Cyrillic letters
    for ordinary in ("СОК", "Ест кот", "Сестра приедет в среду", "Стоп-кран не работает"):
        assert read_intent(ordinary) is None


def test_what_matched_is_the_message_as_said_cut_to_200_characters() -> None:
    text = "  Please stop texting me. " + "x" * 300
    intent = read_intent(text)
    assert intent is not None and intent.words == text.strip()[:200]


def test_operators_words_and_phrases_are_added_to_every_language() -> None:
    vocabulary = Vocabulary.build(
        opt_out=[*DEFAULT_OPT_OUT_WORDS, "sitisha"],
        opt_in=[*DEFAULT_OPT_IN_WORDS, "anza"],
        help=[*DEFAULT_HELP_WORDS, "msaada"],
        phrases=["take a hike"],
    )
    assert kind("sitisha") == "none"
    assert read_intent("SITISHA tafadhali 12", vocabulary) is None  # its polite words are not known
    assert read_intent("Sitisha", vocabulary) == MessageIntent(OPT_OUT, "Sitisha", None)
    assert read_intent("anza", vocabulary) == MessageIntent(OPT_IN, "anza", None)
    assert read_intent("msaada", vocabulary) == MessageIntent(HELP, "msaada", None)
    assert read_intent("Take a hike!", vocabulary) == MessageIntent(OPT_OUT, "Take a hike!", None)
    assert read_intent("baja", vocabulary) == MessageIntent(OPT_OUT, "baja", "es")


# --- properties ------------------------------------------------------------------------------

NEUTRAL = st.sampled_from(
    ["hello", "tomorrow", "ok", "see you", "at 5", "the", "Maria", "12345", "🙂", "lol", "!!", ","]
)
AROUND = st.lists(NEUTRAL, max_size=5).map(" ".join)
KINDS = {OPT_OUT, OPT_OUT_UNCERTAIN, OPT_IN, HELP}


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_the_reader_never_raises_on_any_text(text: str) -> None:
    intent = read_intent(text)
    assert intent is None or (intent.kind in KINDS and len(intent.words) <= 200)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([r.text for r in rows(label="none")]), AROUND, AROUND)
def test_ordinary_words_around_a_look_alike_never_make_it_an_opt_out(
    text: str, before: str, after: str
) -> None:
    assert kind(f"{before} {text} {after}") != OPT_OUT


REQUESTS = [r.text for r in rows("en", "opt_out") if r.category == "polite_sentence"]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(REQUESTS), st.sampled_from(["Hi. ", "Hello, ", "", "Dear team, "]))
def test_a_greeting_before_a_request_keeps_it_a_request(text: str, greeting: str) -> None:
    assert kind(f"{greeting}{text}") == OPT_OUT


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([r.text for r in ROWS]))
def test_shouting_a_message_does_not_change_how_it_is_read(text: str) -> None:
    assert kind(text.upper()) == kind(text)


def _full_distance(a: str, b: str) -> int:
    """Optimal string alignment over the whole table: what the banded one must agree with."""
    d = [[i + j if i == 0 or j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(
                d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])
            )
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


@settings(max_examples=500, deadline=None)
@given(
    a=st.text(alphabet="stopun", min_size=1, max_size=12),
    b=st.text(alphabet="stopun", min_size=1, max_size=12),
    limit=st.integers(min_value=0, max_value=2),
)
def test_the_banded_typo_distance_is_exact_within_its_limit(a: str, b: str, limit: int) -> None:
    full = _full_distance(a, b)
    assert _distance(a, b, limit) == (full if full <= limit else limit + 1)

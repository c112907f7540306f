"""Opt-out compliance: does an inbound message say STOP, START or HELP? Pure.

Text is compared after folding (events/rules/text.py), so "Ｓｔｏｐ", "STÖP" and "ST0P" all
read "stop". A keyword counts as the first word of the message when the rest is only politeness,
punctuation or a number ("stop please", "Stop. Thank you", "STOP 12345"), or when the message
is one of the known phrasings ("please remove me"). It never counts inside another word
("stopwatch") or after a negation ("don't stop").
"""

from __future__ import annotations

from dataclasses import dataclass

from events.rules.text import tokens, words

OPT_OUT = "opt_out"
OPT_IN = "opt_in"
HELP = "help"

DEFAULT_OPT_OUT_WORDS = (
    "stop",
    "stopall",
    "unsubscribe",
    "cancel",
    "end",
    "quit",
    "revoke",
    "optout",
    # Other languages (configurable): French, Spanish, German, Italian, Portuguese.
    "arret",
    "desabonner",
    "baja",
    "alto",
    "parar",
    "cancelar",
    "stopp",
    "abmelden",
    "basta",
    "cancella",
    "pare",
    "sair",
)
DEFAULT_OPT_IN_WORDS = ("start", "unstop", "yes")
DEFAULT_HELP_WORDS = ("help", "info", "aide", "ayuda", "hilfe", "aiuto", "ajuda")

# Whole messages that mean "opt me out" without starting with a keyword.
DEFAULT_OPT_OUT_PHRASES = (
    "please remove me",
    "remove me",
    "remove me from your list",
    "take me off your list",
    "opt out",
    "opt me out",
    "unsubscribe me",
    "stop sending",
    "stop texting me",
    "stop messaging me",
    "no more messages",
    "do not text me",
    "dont text me",
)

# Words that may follow a keyword without changing what it means.
_FILLER = frozenset(
    {
        "please",
        "pls",
        "plz",
        "thanks",
        "thank",
        "you",
        "thx",
        "now",
        "all",
        "me",
        "it",
        "merci",
        "gracias",
        "danke",
        "grazie",
        "obrigado",
        "por",
        "favor",
        "bitte",
        "sil",
        "vous",
        "plait",
        "svp",
        "ok",
        "okay",
    }
)
_NEGATIONS = frozenset(
    {
        "dont",
        "don't",
        "do",
        "not",
        "never",
        "no",
        "cant",
        "won't",
        "wont",
        "ne",
        "pas",
        "nicht",
        "non",
    }
)


@dataclass(frozen=True)
class Intent:
    kind: str  # opt_out, opt_in or help
    words: str  # what matched, for the audit trail


@dataclass(frozen=True)
class Vocabulary:
    opt_out: frozenset[str]
    opt_in: frozenset[str]
    help: frozenset[str]
    phrases: tuple[str, ...]

    @classmethod
    def build(
        cls,
        opt_out: tuple[str, ...] | list[str] = DEFAULT_OPT_OUT_WORDS,
        opt_in: tuple[str, ...] | list[str] = DEFAULT_OPT_IN_WORDS,
        help: tuple[str, ...] | list[str] = DEFAULT_HELP_WORDS,
        phrases: tuple[str, ...] | list[str] = DEFAULT_OPT_OUT_PHRASES,
    ) -> Vocabulary:
        def norm(items: tuple[str, ...] | list[str]) -> frozenset[str]:
            return frozenset(" ".join(words(w)) for w in items if w.strip())

        return cls(
            norm(opt_out),
            norm(opt_in),
            norm(help),
            tuple(" ".join(words(p)) for p in phrases),
        )


DEFAULT_VOCABULARY = Vocabulary.build()


def classify(text: str | None, vocabulary: Vocabulary = DEFAULT_VOCABULARY) -> Intent | None:
    """The compliance intent of an inbound text, or None."""
    if not text or not text.strip():
        return None
    raw = tokens(text)
    folded_words = words(text)
    if not folded_words:
        return None
    joined = " ".join(folded_words)
    if joined in vocabulary.phrases:
        return Intent(OPT_OUT, text.strip()[:200])
    first, rest = folded_words[0], folded_words[1:]
    if first in _NEGATIONS:
        return None
    # The rest may be politeness or a number (a shortcode, a reference), nothing else.
    raw_rest = raw[1:]
    if any(not (w in _FILLER or raw_rest[i].isdigit()) for i, w in enumerate(rest)):
        return None
    for kind, bag in (
        (OPT_OUT, vocabulary.opt_out),
        (OPT_IN, vocabulary.opt_in),
        (HELP, vocabulary.help),
    ):
        if first in bag:
            return Intent(kind, text.strip()[:200])
    return None

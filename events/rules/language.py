"""Which language a short message is in: a small, fast guess for choosing a rule's text. Pure.

Not a full language identifier: a message is short, the choice is between the few languages a
rule's text table names, and the rules must stay fast (benchmarks/rules.py: 50,000 events/s).
langid.py, the smallest PyPI identifier that needs no model download, takes about 60 µs a
message and 4.5 s to load its model (measured on the development machine): three times the whole
per-event budget. So the guess is the opt-out reader's: the words of its twenty languages
(events/rules/optout_words.py: keywords, polite words) plus a few of each language's commonest
words, and the script for the languages that have their own. Only a rule whose text is a table
asks for it, and only when it fires. None when nothing tells.
"""

from __future__ import annotations

import re
from functools import lru_cache

from events.rules.optout_words import LANGUAGES
from events.rules.text import words

# A few of the commonest words of each language (greetings, pronouns, question words), folded:
# what a short message that is not about opting out usually holds. A word two languages share
# ("no", "de") tells neither.
_COMMON: dict[str, tuple[str, ...]] = {
    "en": (
        "hello",
        "hi",
        "the",
        "is",
        "what",
        "how",
        "when",
        "where",
        "my",
        "you",
        "want",
        "thanks",
        "thank",
        "please",
        "can",
        "i",
        "have",
        "need",
        "price",
        "order",
    ),
    "es": (
        "hola",
        "el",
        "la",
        "los",
        "que",
        "quiero",
        "cuando",
        "donde",
        "como",
        "mi",
        "gracias",
        "por",
        "favor",
        "precio",
        "pedido",
        "buenos",
        "dias",
        "tengo",
        "necesito",
        "es",
    ),
    "fr": (
        "bonjour",
        "salut",
        "le",
        "les",
        "je",
        "voudrais",
        "veux",
        "quand",
        "ou",
        "comment",
        "mon",
        "merci",
        "est",
        "prix",
        "commande",
        "rendez",
        "vous",
        "avec",
        "pour",
    ),
    "de": (
        "hallo",
        "der",
        "die",
        "das",
        "ich",
        "ist",
        "wann",
        "wo",
        "wie",
        "mein",
        "danke",
        "bitte",
        "preis",
        "bestellung",
        "termin",
        "und",
        "nicht",
        "mochte",
        "guten",
        "tag",
    ),
    "it": (
        "ciao",
        "buongiorno",
        "il",
        "lo",
        "gli",
        "vorrei",
        "quando",
        "dove",
        "come",
        "grazie",
        "prezzo",
        "ordine",
        "sono",
        "mio",
        "per",
        "che",
        "voglio",
    ),
    "pt": (
        "ola",
        "oi",
        "bom",
        "dia",
        "quero",
        "quando",
        "onde",
        "obrigado",
        "obrigada",
        "meu",
        "preco",
        "pedido",
        "voce",
        "nao",
        "tenho",
        "preciso",
    ),
    "nl": (
        "hallo",
        "hoi",
        "het",
        "een",
        "ik",
        "wil",
        "wanneer",
        "waar",
        "hoe",
        "mijn",
        "dank",
        "bedankt",
        "prijs",
        "bestelling",
        "niet",
        "graag",
    ),
    "pl": (
        "dzien",
        "dobry",
        "czesc",
        "jest",
        "chce",
        "kiedy",
        "gdzie",
        "jak",
        "moje",
        "dziekuje",
        "cena",
        "zamowienie",
        "nie",
        "prosze",
    ),
    "tr": (
        "merhaba",
        "selam",
        "ne",
        "zaman",
        "nerede",
        "nasil",
        "benim",
        "tesekkurler",
        "fiyat",
        "siparis",
        "istiyorum",
        "lutfen",
        "bir",
    ),
    "id": (
        "halo",
        "selamat",
        "pagi",
        "saya",
        "mau",
        "kapan",
        "dimana",
        "bagaimana",
        "terima",
        "kasih",
        "harga",
        "pesanan",
        "tidak",
        "tolong",
    ),
    "sv": (
        "hej",
        "jag",
        "vill",
        "nar",
        "var",
        "hur",
        "min",
        "tack",
        "pris",
        "bestallning",
        "vad",
        "kostar",
        "paketet",
        "inte",
    ),
    # Danish and Norwegian share many words ("jeg", "koster"), and "hej"/"hei" are shared with
    # Swedish and Finnish: the words only one of them uses decide.
    "da": ("hej", "hvad", "hvornar", "hvor", "jeg", "gerne", "tak", "koster", "pakke", "ikke"),
    "no": ("hei", "hva", "nar", "hvor", "jeg", "takk", "koster", "pakken", "ikke", "gjerne"),
    "fi": (
        "hei",
        "moi",
        "mita",
        "milloin",
        "missa",
        "miten",
        "paljonko",
        "kiitos",
        "haluan",
        "tilaus",
        "paketti",
        "maksaa",
    ),
    "ro": ("buna", "vreau", "cand", "unde", "cum", "multumesc", "pretul", "comanda", "sunt"),
}
# Scripts that tell the language by themselves (among the reader's languages).
_SCRIPTS = (
    (re.compile(r"[\u3040-\u30ff]"), "ja"),  # kana: Japanese, even with kanji
    (re.compile(r"[\u4e00-\u9fff]"), "zh"),
    (re.compile(r"[\u0600-\u06ff]"), "ar"),
    (re.compile(r"[\u0400-\u04ff]"), "ru"),
)


def _table() -> dict[str, frozenset[str]]:
    """Each word and the languages it belongs to."""
    table: dict[str, set[str]] = {}
    for lang in LANGUAGES:
        if lang.cjk:
            continue
        for phrase in (*lang.opt_out, *lang.opt_in, *lang.help, *lang.polite):
            for word in words(phrase):
                table.setdefault(word, set()).add(lang.code)
    for code, common in _COMMON.items():
        for word in common:
            table.setdefault(word, set()).add(code)
    return {w: frozenset(codes) for w, codes in table.items()}


_WORDS = _table()


def guess_language(text: str | None, folded_words: list[str] | None = None) -> str | None:
    """The ISO 639-1 code of the language a message is most likely in, or None. The caller may
    pass the text's words as events/rules/text.py folds them, when it has them already."""
    if not text:
        return None
    if not text.isascii():
        for script, code in _SCRIPTS:
            if script.search(text):
                return code
    return _by_words(tuple((words(text) if folded_words is None else folded_words)[:40]))


@lru_cache(maxsize=4096)  # auto-replies repeat: "hola", "Hello"
def _by_words(seen: tuple[str, ...]) -> str | None:
    votes: dict[str, float] = {}
    for word in seen:
        codes = _WORDS.get(word)
        if codes:
            for code in codes:  # a word several languages share tells each of them less
                votes[code] = votes.get(code, 0.0) + 1.0 / len(codes)
    if not votes:
        return None
    ranked = sorted(votes.items(), key=lambda item: -item[1])
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]

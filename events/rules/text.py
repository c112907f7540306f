"""Text folding shared by the opt-out classifier and the rules' keyword conditions. Pure.

Matching is case-, accent- and width-insensitive and maps common look-alike letters (Cyrillic
and Greek homoglyphs; 0/1/3/5/$/@ inside words), so "Ｓｔｏｐ", "STÖP" and "ST0P" all read "stop".
"""

from __future__ import annotations

import re
import unicodedata

_LOOKALIKES = str.maketrans(
    {
        # Cyrillic
        "а": "a",
        "в": "b",
        "е": "e",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "і": "i",
        "ј": "j",
        "ѕ": "s",
        # Greek
        "α": "a",
        "β": "b",
        "ε": "e",
        "ι": "i",
        "κ": "k",
        "ν": "v",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
    }
)
# Digits and signs used as letters: mapped inside words only, so that numbers stay numbers.
_SIGNS = str.maketrans({"0": "o", "1": "i", "3": "e", "5": "s", "$": "s", "@": "a"})
_WORD = re.compile(r"[a-z0-9'$@]+")


def fold(text: str) -> str:
    """Case-, accent- and width-insensitive text (look-alikes not mapped yet)."""
    if text.isascii():
        return text.lower()  # most messages: no widths, accents or special cases to fold
    text = unicodedata.normalize("NFKC", text).casefold()
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c))


def folded(text: str) -> str:
    """fold() with look-alike letters mapped letter for letter (word boundaries do not move):
    what `contains` and `regex` conditions are matched against."""
    return fold(text).translate(_LOOKALIKES).replace("\u2019", "'")


def tokens(text: str) -> list[str]:
    """The words of a text as folded, digits kept (so numbers stay numbers)."""
    return _WORD.findall(folded(text))


def words(text: str) -> list[str]:
    """The same words with digits and signs used as letters mapped (ST0P -> stop); the list
    lines up with tokens()."""
    return words_of_folded(folded(text))


def words_of_folded(text: str) -> list[str]:
    """words() of a text already folded()."""
    return [t.translate(_SIGNS) for t in _WORD.findall(text)]

"""Opt-out compliance: does an inbound message say STOP, START or HELP, and in which language? Pure.

The reader knows twenty languages (events/rules/optout_words.py) and reads a message in four
steps, each on the message folded (lower case; accents, widths and look-alike letters removed:
"Ｓｔｏｐ", "STÖP", "ST0P", "ѕтор" read "stop"; spelled-out letters joined: "S-T-O-P" reads
"stop"; emoji and punctuation dropped, sentence breaks kept):

1. A question about how to opt out ("where do I unsubscribe from this?", "¿cómo me doy de
   baja?") is set aside as *probably*: it is not a request yet.
2. A request anywhere in what is left opts out for certain: "could you stop sending these",
   "remove my number from your list", "no me envíen más mensajes", "请不要再给我发短信了",
   unless a negation stands just before it ("don't stop sending me deals") or the object is not
   a message ("stop sending the parcel to my old address" has no "me/these/texts" after it).
3. Otherwise the message is read for bare keywords: every sentence is only keywords, polite
   words, numbers or emoji ("STOP", "Stop!!! Stop!!!", "baja por favor", "STOP 36111",
   "stooop", "st op", "配信停止してください"). A keyword inside an ordinary sentence never
   counts ("stop at the gate", "the end is near", "is the bus stop far"). A bare keyword
   sentence beside other words is certain when the other words confirm it ("Not interested.
   STOP"), and only probable otherwise ("who is this? stop"); a name signed after a dash or on
   the last line is not other words ("STOP - John"). Long keywords are also read through
   typos in short messages ("unsusbcribe": one edit; two when the message is that one word of
   ten letters or more; the first letter kept, and the second for two edits, so "bestellen"
   never reads "abbestellen").
4. What is left is *probably* an opt-out when it dismisses the sender ("please leave me be",
   "not interested"), asked how to opt out (step 1), or is a carrier's one-letter code (T, N, R,
   B): those letters also answer yes/no questions.

Look-alike letters are mapped only in a message with no letter that exists in Russian alone, so
"стоп" reads Russian "stop" and Russian words never turn into Latin keywords. A negation counts
within the three words before a request in its sentence ("no" only right before it, so "no
thanks, unsubscribe me" still opts out), and so does a request said of someone else ("сестра
хочет отписаться").

The line between certain and probable: certain when the words themselves ask to stop messages
to this person (a keyword alone, an imperative or a first-person wish about messages, the
number being wrong); probable when they show annoyance or interest in opting out without
asking (a question, a dismissal, a keyword beside a question). Probable is `opt_out_uncertain`:
suppressed and reviewed by a person, never confirmed to the sender automatically.

START/UNSTOP/YES (and their equivalents) opt in and HELP/INFO ask for help only as bare
keywords: "yes I'll be there" and "start time?" are ordinary messages.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import groupby

from events.rules.optout_words import LANGUAGES, LETTER_CODES, SIGNATURES, Language

OPT_OUT = "opt_out"
OPT_IN = "opt_in"
HELP = "help"
OPT_OUT_UNCERTAIN = "opt_out_uncertain"

# Importable word lists (events/app.py adds the operator's words to these): every language's.
DEFAULT_OPT_OUT_WORDS: tuple[str, ...] = tuple(
    dict.fromkeys(w for lang in LANGUAGES for w in lang.opt_out)
)
DEFAULT_OPT_IN_WORDS: tuple[str, ...] = tuple(
    dict.fromkeys(w for lang in LANGUAGES for w in lang.opt_in)
)
DEFAULT_HELP_WORDS: tuple[str, ...] = tuple(
    dict.fromkeys(w for lang in LANGUAGES for w in lang.help)
)

# Whole messages that mean "opt me out" without starting with a keyword (kept for callers that
# pass their own; the requests of each language read these and more).
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


@dataclass(frozen=True)
class MessageIntent:
    """What the reader made of one message: its intent (a value of events.vocabulary.Intent,
    kept a plain string here: the reader is pure and fast), the words, the language."""

    kind: str  # opt_out, opt_out_uncertain, opt_in or help
    words: str  # the message as said (stripped, first 200 characters), for the audit trail
    language: str | None = None  # ISO 639-1 code it was read in; None when it does not tell


# ---------------------------------------------------------------------------------------------
# Folding

_CYRILLIC_LOOKALIKES = "авекмнорстухіјѕ"
_LOOKALIKES = str.maketrans(
    dict(zip(_CYRILLIC_LOOKALIKES + "αβεικνορτυχ", "abekmhopctyxijs" + "abeikvoptux", strict=True))
)
_LETTERS = str.maketrans({"ı": "i", "ł": "l", "ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "’": "'"})
_SIGNS = str.maketrans({"0": "o", "1": "i", "3": "e", "5": "s", "$": "s", "@": "a"})
_RUSSIAN_ONLY = re.compile(r"[бгдёжзийлпфцчшщъыьэюя]")
# Combining marks left by NFKD: Latin and Cyrillic accents, Arabic vowels and hamza, Japanese
# voicing marks (the same on vocabulary and messages, so "ください" meets "くたさい").
_MARKS = re.compile(
    "[\u0300-\u036f\u0483-\u0489\u0610-\u061a\u064b-\u065f\u0670"
    "\u06d6-\u06ed\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\u3099\u309a\ufe20-\ufe2f]"
)
_SIGN_IN_WORD = re.compile(r"(?<=[^\W\d_])[$@]|[$@](?=[^\W\d_])")
_SPELLED = re.compile(r"(?<!\w)[^\W\d_](?:[ .\-_*·+]+[^\W\d_](?!\w))+")
_SPELL_GAPS = re.compile(r"[ .\-_*·+]")
# A word, or a sentence break: punctuation, or a dash or slash standing between spaces.
_BREAK = re.compile(r"(?:[.!?;:,\n\r…。！？；：，、؟،()\[\]\"“”«»|]|(?<=\s)[-–—/]+(?=\s))+")
_WORD = re.compile(r"[^\W_]+|\|")
_MIXED = re.compile(r"\b(?=[^\W_]*\d)(?=[^\W_]*[^\W\d_])[^\W_]+")  # letters and digits: ST0P
_DIGIT = re.compile(r"\d")
_BREAKS = re.compile(r"(?:\| )+\|")
_SIGNATURE = re.compile(SIGNATURES)
_STOP_SIGNS = ("🛑", "⛔", "🚫", "✋")
# A name signed after a dash or on its own last line: "STOP - John", "Stop please\nMaria Lopez".
_SIGNED = re.compile(r"(?:\n|\s[-–—~]+)\s*[A-Z][^\W\d_]+(?: [A-Z][^\W\d_]+\.?)?\s*$")


def _fold_word(word: str) -> str:
    """Case, width and accent folding of vocabulary and messages alike."""
    if word.isascii():
        return word.lower()
    text = unicodedata.normalize("NFKC", word).casefold().translate(_LETTERS)
    return _MARKS.sub("", unicodedata.normalize("NFKD", text))


def _fold(text: str) -> str:
    """The message as the reader sees it: folded words separated by spaces, sentences by "|"."""
    text = _fold_word(text)
    if not text.isascii():
        if not _RUSSIAN_ONLY.search(text):  # look-alike letters in a Latin message: map them
            text = text.translate(_LOOKALIKES)
        text = text.replace("’", "'")
    if "$" in text or "@" in text:
        text = _SIGN_IN_WORD.sub(lambda m: m.group().translate(_SIGNS), text)
    words = _ascii_words(text) if text.isascii() else None
    if words is None:
        if len(text) <= 80:  # letters spelled out one by one: only ever a short message
            text = _SPELLED.sub(lambda m: _SPELL_GAPS.sub("", m.group()), text)
        words = _WORD.findall(_BREAK.sub(" | ", text))
    joined = " ".join(words)
    if _DIGIT.search(joined):
        joined = _MIXED.sub(lambda m: m.group().translate(_SIGNS), joined)
    if "| |" in joined:
        joined = _BREAKS.sub("|", joined)
    joined = joined.strip(" |")
    if "sent" in joined or "envoy" in joined or "gesendet" in joined:
        joined = _SIGNATURE.sub("", joined).strip(" |")
    return joined


# Plain ASCII punctuation: sentence breaks, and what only separates words.
_ASCII = str.maketrans(
    {chr(c): " " for c in range(128) if not chr(c).isalnum()}
    | {c: " | " for c in '.!?;:,()[]"|\n\r'}
)


# A word of one letter, in a plain ASCII message after _ASCII's translation (only letters,
# digits, spaces and "|" are left).
_LONE_LETTER = re.compile(r"(?<![a-z0-9])[a-z](?![a-z0-9])")


def _ascii_words(text: str) -> list[str] | None:
    """The words of a plain ASCII message, the quick way: None when a word is a single letter
    (letters spelled out, "S-T-O-P", need the careful way)."""
    if " -" in text or " /" in text:  # a dash or slash between spaces breaks a sentence
        text = _BREAK.sub(" | ", text)
    spaced = text.translate(_ASCII)
    if _LONE_LETTER.search(spaced):
        return None
    return spaced.split()


_DOUBLED = re.compile(r"(.)\1")


def _collapse(word: str) -> str:
    """Letters said more than once said once: "stooop" -> "stop", "bajaaa" -> "baja"."""
    if _DOUBLED.search(word) is None:  # most words: nothing to collapse, found in C
        return word
    return "".join(letter for letter, _ in groupby(word))


# ---------------------------------------------------------------------------------------------
# Vocabulary, compiled once


@dataclass(frozen=True)
class _Word:
    kind: str
    languages: frozenset[str]


def _words_table(languages: tuple[Language, ...]) -> dict[str, _Word]:
    table: dict[str, _Word] = {}
    for kind, attribute in ((OPT_OUT, "opt_out"), (OPT_IN, "opt_in"), (HELP, "help")):
        for lang in languages:
            words: tuple[str, ...] = getattr(lang, attribute)
            for word in words:
                key = _fold(word)
                old = table.get(key)
                if old is None or old.kind == kind:
                    langs = old.languages if old else frozenset()
                    table[key] = _Word(kind, langs | {lang.code})
    for letter in LETTER_CODES:
        table[letter] = _Word(OPT_OUT_UNCERTAIN, frozenset())
    return table


_SEP = r" (?:\| )?"
# ".*" in a pattern: within the sentence and near (bounded, so a long message costs linear time).
_NEAR = "[^|]{0,60}"


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a pattern ("a|b(c|d)" -> ["a", "b(c|d)"])."""
    out, depth, start, i = [], 0, 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
        i += 1
    return [*out, pattern[start:]]


def _first_letters(pattern: str) -> frozenset[str] | None:
    """How a pattern's match can start: its first two letters where they are plain ("how",
    "(do not|don t)" -> "ho", "do"), else its first; None when not even that is plain."""
    pattern = pattern.removeprefix("\\b")
    if pattern[:1].isalnum():
        if pattern[1:2] in ("?", "*", "{", "+"):
            return None
        two = pattern[:2]
        plain = len(two) == 2 and two[1].isalnum() and pattern[2:3] not in ("?", "*", "{")
        return frozenset({two if plain else pattern[0]})
    if not pattern.startswith("(") or (pattern.startswith("(?") and pattern[2:3] != ":"):
        return None
    end = _group_end(pattern)
    if pattern[end + 1 : end + 2] in ("?", "*", "{", "+"):
        return None
    starts: frozenset[str] = frozenset()
    for alternative in _alternatives(pattern[1:end].removeprefix("?:")):
        firsts = _first_letters(alternative)
        if firsts is None:
            return None
        # A one-letter alternative followed by more pattern: only its letter is known.
        starts |= {f if len(f) == 2 or end + 1 == len(pattern) else f[0] for f in firsts}
    return starts


def _group_end(pattern: str) -> int:
    """Where the group that opens a pattern closes."""
    depth = 0
    for at, char in enumerate(pattern):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return at
    return len(pattern) - 1


@dataclass(frozen=True)
class _Patterns:
    """Patterns of every language, tried only where a word starts with a letter one of them can
    start with: one small expression per letter instead of one with hundreds of branches, which
    Python's engine would try at every word of every message."""

    by_letter: Mapping[str, re.Pattern[str]]  # by a word's first two letters, else its first
    # Japanese and Chinese, and what may start with anything: one expression per attribute (so
    # that a request does not hide a question overlapping it), each with whether it can match
    # a plain ASCII message.
    anywhere: tuple[tuple[re.Pattern[str], bool], ...]

    @classmethod
    def of(cls, *attributes: str) -> _Patterns:
        """Each language's `attributes` ("requests", "asks", "dismissals"), its matches named
        by the first letter of the attribute and the language: "r_en", "a_es"."""
        lettered: dict[str, dict[str, list[str]]] = {}
        anywheres: list[tuple[re.Pattern[str], bool]] = []
        for attribute in attributes:
            anywhere: dict[str, list[str]] = {}
            end = "" if attribute == "asks" else r"\b"  # a question may go on ("désabonne")
            for lang in LANGUAGES:
                name = f"{attribute[0]}_{lang.code}"
                for pattern in getattr(lang, attribute):
                    for alternative in _alternatives(_fold_word(pattern)):
                        regex = alternative.replace(" ", _SEP).replace(".*", _NEAR)
                        firsts = None if lang.cjk else _first_letters(alternative)
                        if firsts is None:
                            wrapped = regex if lang.cjk else rf"\b(?:{regex}){end}"
                            anywhere.setdefault(name, []).append(wrapped)
                            continue
                        for letter in firsts:
                            by_name = lettered.setdefault(letter, {})
                            by_name.setdefault(name, []).append(f"(?:{regex}){end}")
            if anywhere:
                ascii_ = any(w.isascii() for ws in anywhere.values() for w in ws)
                anywheres.append((_named(anywhere), ascii_))
        # A word starting "st" may match what starts "st" or "s": one expression for both.
        for key, by_name in lettered.items():
            for name, patterns in lettered.get(key[0], {}).items() if len(key) == 2 else ():
                by_name.setdefault(name, []).extend(patterns)
        # Plain dicts (typed read-only): a mapping proxy costs a fifth more per look-up.
        return cls({k: _named(v) for k, v in lettered.items()}, tuple(anywheres))

    def hits(self, text: str) -> list[re.Match[str]]:
        found: list[re.Match[str]] = []
        plain = text.isascii()
        for regex, ascii_ in self.anywhere:
            if ascii_ or not plain:
                found.extend(regex.finditer(text))
        at = 0
        get = self.by_letter.get
        for word in text.split(" "):
            starting = get(word[:2]) or get(word[:1])
            if starting is not None:
                hit = starting.match(text, at)
                if hit is not None:
                    found.append(hit)
            at += len(word) + 1
        return found

    def first(self, text: str) -> str | None:
        """The language of the first match, if any."""
        for hit in self.hits(text):
            return _code(hit)
        return None


def _named(by_name: dict[str, list[str]]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?P<{name}>{'|'.join(ps)})" for name, ps in by_name.items()))


def _kind(hit: re.Match[str]) -> str:
    """r (request), a (question) or d (dismissal)."""
    return (hit.lastgroup or "?")[0]


def _code(hit: re.Match[str]) -> str:
    """The language a match is in (its group is named "r_en" and the like)."""
    return (hit.lastgroup or "?_")[2:]


_TABLE = _words_table(LANGUAGES)
_COLLAPSED = {_collapse(k): k for k in _TABLE if " " not in k}


def _polite_words(languages: tuple[Language, ...]) -> dict[str, frozenset[str]]:
    """Polite words, each with the languages it tells when long enough to tell ("bitte")."""
    polite: dict[str, frozenset[str]] = {}
    for lang in languages:
        for word in () if lang.cjk else lang.polite:
            tells = frozenset({lang.code}) if len(word) >= 3 else frozenset()
            polite[_fold(word)] = polite.get(_fold(word), frozenset()) | tells
    return polite


_POLITE = _polite_words(LANGUAGES)
_CJK_SUFFIXES = tuple(
    sorted({_fold_word(w) for lang in LANGUAGES if lang.cjk for w in lang.polite}, key=len)[::-1]
)
_NEGATIONS = frozenset(_fold(w) for lang in LANGUAGES for w in lang.negations)
# One pass over a message finds every request, question and dismissal; dismissals alone also
# say whether the words beside a bare keyword confirm it.
_PATTERNS = _Patterns.of("requests", "asks", "dismissals")
_REQUESTS = _Patterns.of("requests")
_DISMISSALS = _Patterns.of("dismissals")
_STRONG = frozenset(_fold(w) for lang in LANGUAGES for w in lang.strong)


# ---------------------------------------------------------------------------------------------
# Typos: words within one edit (two from ten letters on) of a long keyword, first letters kept.


def _deletions(word: str, depth: int) -> set[str]:
    out = {word}
    for _ in range(depth):
        out |= {w[:i] + w[i + 1 :] for w in out for i in range(len(w))}
    return out


def _typo_index(words: frozenset[str], most: int) -> dict[str, frozenset[str]]:
    index: dict[str, set[str]] = {}
    for word in words:
        for variant in _deletions(word, min(most, 2 if len(word) >= 10 else 1)):
            index.setdefault(variant, set()).add(word)
    return {k: frozenset(v) for k, v in index.items()}


def _distance(a: str, b: str, limit: int) -> int:
    """Edit distance where swapping two neighbouring letters counts one (optimal string
    alignment), exact up to `limit`; anything more is reported as limit + 1. Only the band of
    cells within `limit` of the diagonal is computed: a cell further off is more than `limit`
    edits away already (a third of the work for a 15-letter word at two edits)."""
    n, m = len(a), len(b)
    over = limit + 1
    if abs(n - m) > limit:
        return over
    before = [over] * (m + 1)
    previous = [j if j <= limit else over for j in range(m + 1)]
    for i in range(1, n + 1):
        x = a[i - 1]
        current = [over] * (m + 1)
        if i <= limit:
            current[0] = i
        for j in range(max(1, i - limit), min(m, i + limit) + 1):
            y = b[j - 1]
            best = previous[j - 1] + (x != y)
            if previous[j] + 1 < best:
                best = previous[j] + 1
            if current[j - 1] + 1 < best:
                best = current[j - 1] + 1
            if i > 1 and j > 1 and x == b[j - 2] and a[i - 2] == y and before[j - 2] + 1 < best:
                best = before[j - 2] + 1
            current[j] = best if best < over else over
        before, previous = previous, current
    return previous[m]


def _allowed(word: str, target: str, most: int) -> int:
    """How many edits a word may be from a keyword and still read as it: none when the first
    letter differs, or when only the ending of a short keyword does ("stopped" is not a typo of
    Dutch "stoppen", nor "removed" of "remover", nor "cancer" of "cancel")."""
    if word[0] != target[0]:
        return 0
    if len(target) < 9 and word[: len(target) - 1] == target[:-1]:
        return 0
    if len(target) >= 10 and word[1] == target[1]:
        return most
    return 1


_BARE_LONG = frozenset(k for k, w in _TABLE.items() if w.kind == OPT_OUT and len(k) >= 6)
# A message that is one word may be two edits from a long keyword; a word in a sentence, one.
_TYPO_BARE = _typo_index(frozenset(k for k in _BARE_LONG if " " not in k) | _STRONG, 2)
_TYPO_STRONG = _typo_index(_STRONG | frozenset(k for k in _BARE_LONG if len(k) >= 8), 1)
_TYPO_FIRST = frozenset(k[0] for k in _BARE_LONG | _STRONG)


def _corrected(word: str, index: dict[str, frozenset[str]], most: int) -> str | None:
    if len(word) < 5 or word in _TABLE or word in _POLITE:
        return None
    candidates: set[str] = set()
    for variant in _deletions(word, 1):  # two deletions are on the keyword's side
        candidates |= index.get(variant, frozenset())
    best = sorted(
        (distance, target)
        for target in candidates
        if (allowed := _allowed(word, target, most))
        and abs(len(word) - len(target)) <= allowed
        and (distance := _distance(word, target, allowed)) <= allowed
    )
    return best[0][1] if best else None


# ---------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class Vocabulary:
    """Words an operator adds (INFOBIP_EVENTS_OPTOUT_WORDS, ...), read like the built-in bare
    keywords, and whole-message phrases that opt out."""

    opt_out: frozenset[str]
    opt_in: frozenset[str]
    help: frozenset[str]
    phrases: tuple[str, ...]
    # Every bare word and what it means: the built-in ones, then the operator's.
    words: Mapping[str, _Word] = field(default_factory=lambda: _TABLE, compare=False, repr=False)

    def __post_init__(self) -> None:
        added = {
            key: _Word(kind, frozenset())
            for kind, bag in ((HELP, self.help), (OPT_IN, self.opt_in), (OPT_OUT, self.opt_out))
            for key in bag
            if key not in _TABLE
        }
        if added:
            object.__setattr__(self, "words", {**added, **_TABLE})

    @classmethod
    def build(
        cls,
        opt_out: tuple[str, ...] | list[str] = DEFAULT_OPT_OUT_WORDS,
        opt_in: tuple[str, ...] | list[str] = DEFAULT_OPT_IN_WORDS,
        help: tuple[str, ...] | list[str] = DEFAULT_HELP_WORDS,
        phrases: tuple[str, ...] | list[str] = DEFAULT_OPT_OUT_PHRASES,
    ) -> Vocabulary:
        def norm(items: tuple[str, ...] | list[str]) -> frozenset[str]:
            return frozenset(_fold(w).replace(" | ", " ") for w in items if w.strip())

        return cls(norm(opt_out), norm(opt_in), norm(help), tuple(sorted(norm(phrases))))

    def word(self, key: str) -> _Word | None:
        """What a bare word or phrase means: built in first, then the operator's."""
        return self.words.get(key)


DEFAULT_VOCABULARY = Vocabulary.build()


def read_intent(
    text: str | None, vocabulary: Vocabulary = DEFAULT_VOCABULARY
) -> MessageIntent | None:
    """The compliance intent of an inbound text, or None."""
    if not text or not text.strip():
        return None
    if "\n" in text or "-" in text or "–" in text or "—" in text or "~" in text:
        text = _SIGNED.sub("", text)
    seen = _fold(text)
    if not seen:  # emoji alone: a stop sign may mean stop, or anything
        if any(sign in text for sign in _STOP_SIGNS):
            return MessageIntent(OPT_OUT_UNCERTAIN, text.strip()[:200], None)
        return None
    read = _read(seen, vocabulary)
    if read is None:
        return None
    kind, language = read
    return MessageIntent(kind, text.strip()[:200], language)


Reading = tuple[str, str | None]


def _read(seen: str, vocabulary: Vocabulary) -> Reading | None:
    if seen.replace(" | ", " ") in vocabulary.phrases:
        return OPT_OUT, None
    if " " not in seen:  # one word, the commonest reply: a keyword or not, nothing else to see
        word = vocabulary.words.get(seen)
        if word is not None:
            return word.kind, _language(set(word.languages), set())
    hits = _PATTERNS.hits(seen)
    asked = {seen.count("|", 0, h.start()): _code(h) for h in hits if _kind(h) == "a"}
    rest = seen
    if asked:  # questions about how to opt out are set aside: probably, not certainly
        rest = " | ".join(s for i, s in enumerate(seen.split(" | ")) if i not in asked)
        hits = _PATTERNS.hits(rest)
    found = _request(rest, hits) or _bare(rest, vocabulary)
    if found is None:
        fixed = _fix_typos(rest)
        if fixed != rest:
            found = _request(fixed, _REQUESTS.hits(fixed)) or _bare(fixed, vocabulary)
    if found is not None:
        return found
    for hit in hits:
        if _kind(hit) == "d":
            return OPT_OUT_UNCERTAIN, _code(hit)
    if asked:
        return OPT_OUT_UNCERTAIN, next(iter(asked.values()))
    return None


def _request(seen: str, hits: Iterable[re.Match[str]]) -> Reading | None:
    """A request to stop anywhere in the message, not negated just before."""
    for hit in hits:
        if _kind(hit) != "r":
            continue
        before = seen[: hit.start()].rsplit("|", 1)[-1].split()[-3:]
        if before and (before[-1] in _NEGATIONS or any(w in _NEGATIONS - {"no"} for w in before)):
            continue
        return OPT_OUT, _code(hit)
    return None


def _fix_typos(seen: str) -> str:
    """Long words one or two edits from a keyword, put right (short messages only: people
    mistype the one word they send, and a long message has more to say than a keyword)."""
    words = seen.split(" ")
    if len(words) > 8:
        return seen
    content = [w for w in words if w != "|" and w not in _POLITE and not w.isdigit()]
    if len(content) > 3:
        return seen
    index, most = (_TYPO_BARE, 2) if len(content) == 1 else (_TYPO_STRONG, 1)
    return " ".join(_corrected(w, index, most) or w if w[:1] in _TYPO_FIRST else w for w in words)


def _bare(seen: str, vocabulary: Vocabulary) -> Reading | None:
    """Sentences made only of keywords (and polite words, numbers): what they say."""
    kinds: list[str] = []
    languages: set[str] = set()
    others: list[list[str]] = []
    for sentence in seen.split(" | "):
        words = sentence.split(" ")
        if len(words) > 12:  # too long to be keywords and politeness
            others.append(words)
            continue
        content = [w for w in words if w not in _POLITE and not w.isdigit()]
        if not content:
            continue
        meaning = _keyword(content, vocabulary) if len(content) <= 6 else None
        if meaning is None:
            others.append(content)
            continue
        kinds.append(meaning.kind)
        languages |= meaning.languages
    if not kinds:
        return None
    hints = {code for w in seen.split(" ") for code in _POLITE.get(w, ())}
    language = _language(languages, hints)
    kind = kinds[0] if len(set(kinds)) == 1 else OPT_OUT_UNCERTAIN
    if not others:
        return kind, language
    if kind != OPT_OUT:
        return None  # START or HELP inside a sentence is an ordinary message
    said = " | ".join(" ".join(o) for o in others)
    if _DISMISSALS.first(said):
        return OPT_OUT, language  # "Not interested. STOP"
    return OPT_OUT_UNCERTAIN, language


def _language(languages: set[str], hints: set[str]) -> str | None:
    if len(languages) == 1:
        return next(iter(languages))
    common = languages & hints if languages else hints
    return next(iter(common)) if len(common) == 1 else None


def _keyword(content: list[str], vocabulary: Vocabulary) -> _Word | None:
    """What a sentence of keywords means: one keyword, the same said again, spelled out, or
    said with letters held ("stooop")."""
    whole = vocabulary.word(" ".join(content))
    if whole is not None:
        return whole
    if len(content) == 1 and not content[0].isascii():
        stripped = _strip_cjk(content[0])
        found = vocabulary.word(stripped) or vocabulary.word(_period(stripped))
        if found is not None:
            return found
    if all(len(w) <= 3 for w in content):
        squashed = vocabulary.word("".join(content))
        if squashed is not None:
            return squashed
    meanings: list[_Word] = []
    for word in content:
        meaning = vocabulary.words.get(word)
        if meaning is None and len(word) > 2:
            meaning = vocabulary.words.get(_COLLAPSED.get(_collapse(word), ""))
        if meaning is None:
            return None
        meanings.append(meaning)
    kinds = {m.kind for m in meanings}
    if len(kinds) != 1:
        return None
    languages = frozenset().union(*(m.languages for m in meanings))
    return _Word(kinds.pop(), languages)


def _period(word: str) -> str:
    """The unit a word repeats, if it is one said again: ストップストップ -> ストップ."""
    for size in range(1, len(word) // 2 + 1):
        if len(word) % size == 0 and word[:size] * (len(word) // size) == word:
            return word[:size]
    return word


def _strip_cjk(word: str) -> str:
    """配信停止してください -> 配信停止: polite endings off a Japanese or Chinese keyword."""
    changed = True
    while changed:
        changed = False
        for suffix in _CJK_SUFFIXES:
            if word.endswith(suffix) and len(word) > len(suffix):
                word, changed = word[: -len(suffix)], True
        for prefix in ("请", "請"):
            if word.startswith(prefix) and len(word) > 1:
                word, changed = word[1:], True
    return word

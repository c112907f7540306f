"""Bodies for fuzzing the webhook paths (tests/test_fuzz_webhooks.py, and the longer run in
scripts/fuzz_webhooks.py): random JSON, deep JSON and XML, huge and non-UTF-8 bodies, and real
Infobip batches with one bad value put into one item.

A bad value is written into the body as JSON text, exactly as a sender could spell it
(``1e308``, ``"\\ud800"``, an integer of 70 bits), never through Python's encoder, which would
normalize it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from events.channels.registry import PARSERS

FIXTURES = Path(__file__).parent / "fixtures"
PATHS = sorted(PARSERS)  # every /webhooks/{channel} the receiver serves

# Bad values as JSON text, by what the issue names (and a few neighbours).
BAD_VALUES: dict[str, str] = {
    "big int": str(2**70),
    "1e308": "1e308",
    "lone surrogate": '"before \\ud800 after"',
    "NUL": '"before \\u0000 after"',
    "huge negative int": str(-(2**90)),
    "1e-400": "1e-400",
    "Infinity": "Infinity",
    "NaN": "NaN",
    "nested 300 deep": "[" * 300 + "]" * 300,
    "long text": json.dumps("x" * 100_000),
    "year 1 with an offset": '"0001-01-01T00:30:00+01:00"',
    "int32 overflow": str(2**40),
    "surrogate key": '{"k\\udfffey": 1}',
}

CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/xml",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "",
    "\u00e9/\u00e9",
]


# ---- real batches ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """A real Infobip body of results[] items that each carry a messageId."""

    channel: str
    name: str
    item: dict[str, Any]


def templates() -> list[Template]:
    out = []
    for channel in PATHS:
        folder = FIXTURES / channel
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            doc = json.loads(path.read_bytes())
            results = doc.get("results") if isinstance(doc, dict) else None
            if isinstance(results, list) and results and "messageId" in results[0]:
                out.append(Template(channel, path.name, results[0]))
    return out


def leaf_paths(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The paths of an item's values through nested objects (lists are left whole)."""
    if not isinstance(value, dict):
        return [prefix]
    out = [prefix] if prefix else []
    for key, item in value.items():
        out.extend(leaf_paths(item, (*prefix, key)))
    return out


MARK = "@@bad-value@@"


def batch(template: Template, size: int, prefix: str) -> list[dict[str, Any]]:
    items = []
    for index in range(size):
        item = json.loads(json.dumps(template.item))
        item["messageId"] = f"{prefix}-{index}"
        items.append(item)
    return items


def with_bad_value(
    items: list[dict[str, Any]], index: int, path: tuple[str, ...], bad: str
) -> bytes:
    """The batch as JSON with the value at path in item index replaced by the bad JSON text
    (a new key "fuzz" when path is empty)."""
    target: Any = items[index]
    path = path or ("fuzz",)
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = MARK
    text = json.dumps({"results": items})
    return text.replace(json.dumps(MARK), bad, 1).encode()


def expected_kinds(channel: str, items: list[dict[str, Any]]) -> list[str]:
    """The kind of each item of a good batch, as the channel's parser reads it (pure)."""
    result = PARSERS[channel](json.dumps({"results": items}).encode(), "application/json")
    return [str(e.kind) for e in result.events]


# ---- random, deep and huge bodies ------------------------------------------------------------

ODD_TEXT = st.sampled_from(["\ud800", "a\x00b", "\udfff\ud800", "\x00", "null", "\ufffd", ""])
TEXT = st.text(max_size=40) | ODD_TEXT
NUMBER = (
    st.integers()
    | st.integers(min_value=2**63, max_value=2**200)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([1e308, -1e308, 5e-324])
)
JSON = st.recursive(
    st.none() | st.booleans() | NUMBER | TEXT,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(TEXT, inner, max_size=6),
    max_leaves=40,
)


def dumps(value: Any) -> bytes:
    # ensure_ascii writes a lone surrogate as its \\u escape: valid JSON text, as a sender
    # could write it.
    return json.dumps(value, allow_nan=True).encode()


@st.composite
def json_bodies(draw: st.DrawFn) -> bytes:
    value = draw(JSON)
    if draw(st.booleans()):  # the shape Infobip's reports have, so item readers run
        value = {"results": draw(st.lists(JSON | st.dictionaries(TEXT, JSON), max_size=5))}
    return dumps(value)


@st.composite
def deep_bodies(draw: st.DrawFn) -> bytes:
    depth = draw(st.sampled_from([300, 1_000, 5_000, 50_000, 100_000]) | st.integers(1, 3000))
    shape = draw(st.sampled_from(["open", "list", "object", "results", "xml", "item"]))
    if shape == "open":
        return b"[" * depth
    if shape == "list":
        return b"[" * depth + b"]" * depth
    if shape == "object":
        return b'{"a":' * depth + b"1" + b"}" * depth
    if shape == "results":
        return b'{"results":' + b"[" * depth + b"]" * depth + b"}"
    if shape == "xml":
        return b"<a>" * depth + b"</a>" * depth
    inner = b'{"a":' * depth + b"1" + b"}" * depth
    return b'{"results":[{"messageId":"deep","status":' + inner + b"}]}"


@st.composite
def huge_bodies(draw: st.DrawFn) -> bytes:
    size = draw(st.sampled_from([100_000, 1_000_000, 3_000_000]))
    shape = draw(st.sampled_from(["string", "items", "binary"]))
    if shape == "string":
        return b'{"results":[{"messageId":"huge","text":"' + b"x" * size + b'"}]}'
    if shape == "items":
        return b'{"results":[' + b",".join([b"{}"] * (size // 3)) + b"]}"
    return bytes(range(256)) * (size // 256)


BODIES = (
    json_bodies()
    | deep_bodies()
    | huge_bodies()
    | st.binary(max_size=2_000)
    | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))
)

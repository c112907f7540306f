"""Bodies for fuzzing the webhook paths (tests/test_fuzz_webhooks.py, and the longer run in
scripts/fuzz_webhooks.py): random JSON, deep JSON and XML, huge and non-UTF-8 bodies, and real
Infobip batches with one bad value put into one item.

A bad value is written into the body as JSON text, exactly as a sender could spell it
(``1e308``, ``"\\ud800"``, an integer of 70 bits), never through Python's encoder, which would
normalize it.
"""

from __future__ import annotations

import base64
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from starlette.testclient import TestClient

from events.channels.registry import PARSERS
from events.process import Processor
from events.storable import NOTES_KEY
from tests.conftest import drain, post

FIXTURES = Path(__file__).parent / "fixtures"
SERIAL = itertools.count()
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


TEMPLATES = templates()


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


# ---- the checks ------------------------------------------------------------------------------


def read_back(client: TestClient, raw_id: str, body: bytes) -> dict[str, Any]:
    """The raw webhook by its id, its body byte for byte as posted."""
    answer = client.get(f"/v1/webhooks/{raw_id}")
    assert answer.status_code == 200, answer.text[:300]
    doc: dict[str, Any] = answer.json()
    if doc.get("body_base64") is not None:
        assert base64.b64decode(doc["body_base64"]) == body
    else:
        assert doc["body"].encode() == body
    return doc


def check_any_body(
    client: TestClient, worker: Processor, path: str, body: bytes, content_type: str
) -> None:
    # Bytes: a header is latin-1 on the wire, whatever it spells.
    headers = {"content-type": content_type.encode("latin-1")}
    answer = client.post(f"/webhooks/{path}", content=body, headers=headers)
    assert answer.status_code < 500, (path, answer.status_code, answer.text[:300])
    if answer.status_code != 200:
        assert answer.status_code == 413 and len(body) > 5 * 1024 * 1024
        return
    raw_id = answer.headers["x-webhook-id"]
    read_back(client, raw_id, body)
    drain(worker)
    doc = read_back(client, raw_id, body)
    assert doc["state"] in ("processed", "failed", "ignored")
    if doc["state"] == "failed":
        assert doc["error"]  # a reason, for whoever replays it


@dataclass(frozen=True)
class BadBatch:
    template: Template
    size: int
    bad_index: int
    where: tuple[str, ...]
    bad: str


@st.composite
def bad_batches(draw: st.DrawFn) -> BadBatch:
    template = draw(st.sampled_from(TEMPLATES))
    size = draw(st.integers(2, 40))
    return BadBatch(
        template,
        size,
        draw(st.integers(0, size - 1)),
        draw(st.sampled_from([(), *leaf_paths(template.item)])),
        draw(st.sampled_from(sorted(BAD_VALUES))),
    )


def check_bad_batch(client: TestClient, worker: Processor, case: BadBatch) -> None:
    # Ids new to the database on every call (hypothesis replays examples: a replayed body
    # would be a redelivery, whose events are already stored).
    serial = next(SERIAL)
    items = batch(case.template, case.size, f"fz{serial}")
    kinds = expected_kinds(case.template.channel, items)
    bad = BAD_VALUES[case.bad]
    if bad.endswith('"'):  # a bad text made unique too, for when it stands for the messageId
        bad = f'{bad[:-1]} {serial}"'
    body = with_bad_value(items, case.bad_index, case.where, bad)
    answer = post(client, case.template.channel, body)
    assert answer.status_code == 200, answer.text[:300]
    drain(worker)
    doc = read_back(client, answer.headers["x-webhook-id"], body)
    assert doc["state"] == "processed", doc["error"]
    by_index = {e["item_index"]: e for e in doc["events"]}
    for index, kind in enumerate(kinds):
        if index == case.bad_index:
            # Stored all the same: normalized with what was changed, or unknown with why.
            event = by_index.get(index)
            if event is None and case.where == ("messageId",) and not bad.endswith('"'):
                continue  # the same odd id as an earlier call's: a redelivery, stored once
            assert event is not None, f"the bad item {index} was not stored"
            assert event["kind"] == kind or event["note"], event
            continue
        assert index in by_index, f"good item {index} was not stored"
        assert by_index[index]["kind"] == kind, (index, by_index[index])
        assert NOTES_KEY not in (by_index[index]["data"] or {})

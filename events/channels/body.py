"""Decoding a callback's body: JSON (decimals kept exact) or XML (no entity expansion) into the
same dicts, whichever Infobip sent."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from events.channels.event import ParseError

TOO_DEEP = "body is nested too deep to decode (no Infobip body nests more than a few levels)"


def carries_inbound(body: bytes, content_type: str | None) -> bool:
    """Whether a body carries inbound messages (the raw inbox claims those first). Inbound
    items are the ones with receivedAt (docs/infobip.md, the decision table); inbound email is
    multipart/form-data. A byte search, not a parse: the ack waits for it."""
    if b"receivedAt" in body:
        return True
    return bool(content_type and content_type.startswith("multipart/"))


def is_xml(body: bytes, content_type: str | None) -> bool:
    if content_type and "xml" in content_type.lower():
        return True
    return body.lstrip()[:1] == b"<"


def decode_json(body: bytes) -> Any:
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"body is not valid JSON: {exc}") from None
    except RecursionError:
        # The standard library's decoder recurses per level: a body of 100,000 `[` exhausts
        # the stack. No Infobip body nests more than a few levels.
        raise ParseError(TOO_DEEP) from None


def _xml_value(element: Element) -> Any:
    children = list(element)
    if not children:
        text = (element.text or "").strip()
        return text if text else None
    # Infobip XML wraps repeated items as <results><result/>...</results>.
    # (the legacy voice report nests <results><results>...</results></results>: the inner one
    # holds fields, not items).
    tags = [c.tag for c in children]
    holds_items = all(len(c) > 0 for c in children)
    if (element.tag == "results" and holds_items) or (len(tags) > 1 and len(set(tags)) == 1):
        return [_xml_value(c) for c in children]
    out: dict[str, Any] = {}
    for child in children:
        out[child.tag] = _xml_value(child)
    return out


def decode_xml(body: bytes) -> dict[str, Any]:
    """XML to the same dict shape as the JSON bodies, with no entity expansion (defusedxml)."""
    try:
        root = SafeET.fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise ParseError(f"XML refused for safety ({type(exc).__name__})") from None
    except SafeET.ParseError as exc:
        raise ParseError(f"body is not well-formed XML: {exc}") from None
    try:
        value = _xml_value(root)
    except RecursionError:
        raise ParseError(TOO_DEEP) from None
    if not isinstance(value, dict):
        raise ParseError(f"XML root <{root.tag}> holds no fields")
    return value


def decode_body(body: bytes, content_type: str | None) -> Any:
    if not body.strip():
        raise ParseError("empty body")
    if is_xml(body, content_type):
        return decode_xml(body)
    return decode_json(body)

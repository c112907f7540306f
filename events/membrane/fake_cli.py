#!/usr/bin/env python3
"""A fake `membrane` executable (CONTRACT.md 5.2), backed by FakeMembrane.

State (what the fake Infobip has sent, and every argv it was called with) lives in the JSON
file named by FAKE_MEMBRANE_STATE, so that separate invocations see one Infobip. Knobs, from the
environment: FAKE_MEMBRANE_LATENCY (seconds), FAKE_MEMBRANE_MODE (ok, hang, garbage, fail,
not_logged_in, rate_limit, apply_then_hang), FAKE_MEMBRANE_EXIT (force an exit code).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def _argv(args: list[str]) -> tuple[list[str], dict[str, Any]]:
    """minimist-like: --k=v and --k v, -X v, repeatable --query/-H, the rest positional."""
    positional: list[str] = []
    flags: dict[str, Any] = {}
    booleans = {"json", "rawData", "wait", "all"}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--") or (arg.startswith("-") and len(arg) == 2):
            name = arg.lstrip("-")
            value: Any = True
            if "=" in name:
                name, value = name.split("=", 1)
            elif name not in booleans and i + 1 < len(args):
                value = args[i + 1]
                i += 1
            if name in ("query", "H", "header", "pathParam"):
                flags.setdefault(name, []).append(value)
            else:
                flags[name] = value
        else:
            positional.append(arg)
        i += 1
    return positional, flags


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
    from events.membrane.fake import FakeInfobip, FakeMembrane

    state_path = Path(os.environ.get("FAKE_MEMBRANE_STATE", "/tmp/fake-membrane-state.json"))
    mode = os.environ.get("FAKE_MEMBRANE_MODE", "ok")
    latency = float(os.environ.get("FAKE_MEMBRANE_LATENCY", "0") or 0)
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    calls = state.setdefault("calls", [])
    calls.append(sys.argv[1:])
    infobip = FakeInfobip()
    infobip.sent.update(state.get("sent", {}))
    infobip.reported.update(state.get("reported", []))
    membrane = FakeMembrane(
        connection_id=os.environ.get("FAKE_MEMBRANE_CONNECTION", "con_fake"), infobip=infobip
    )

    def save() -> None:
        state["sent"] = infobip.sent
        state["reported"] = sorted(infobip.reported)
        state_path.write_text(json.dumps(state))

    save()
    if latency:
        time.sleep(latency)
    if mode == "hang":
        time.sleep(3600)
    if mode == "garbage":
        print("Welcome to membrane! (not json)")
        return 0
    if "FAKE_MEMBRANE_EXIT" in os.environ:
        print("forced failure", file=sys.stderr)
        return int(os.environ["FAKE_MEMBRANE_EXIT"])
    positional, flags = _argv(sys.argv[1:])
    as_json = bool(flags.get("json"))

    def fail(status: int, doc: dict[str, Any]) -> int:
        if as_json:
            print(json.dumps(doc))
        print(doc.get("message", "error"), file=sys.stderr)
        return 1

    if mode == "not_logged_in":
        return fail(
            401,
            {
                "type": "bad_request",
                "key": "not_authenticated",
                "message": "not logged in: run membrane login",
            },
        )
    if mode == "rate_limit":
        return fail(
            429,
            {"type": "bad_request", "key": "rate_limit_exceeded", "message": "too many requests"},
        )
    if mode == "fail":
        return fail(500, {"type": "internal", "message": "forced failure"})
    command = positional[:2]
    if command == ["action", "run"] and len(positional) >= 3:
        try:
            payload = json.loads(flags.get("input", "{}"))
        except ValueError:
            print("--input is not valid JSON", file=sys.stderr)
            return 2
        status, doc = membrane.run(positional[2], flags.get("connectionId"), payload)
        save()
        if mode == "apply_then_hang":
            time.sleep(3600)
    elif command == ["action", "list"]:
        status, doc = membrane.actions(flags.get("connectionId"))
    elif command == ["connection", "list"]:
        status, doc = membrane.connections()
    elif positional[:1] == ["request"] and len(positional) >= 3:
        if positional[1] != membrane.connection_id:
            return fail(
                404, {"type": "bad_request", "key": "not_found", "message": "Connection not found"}
            )
        query = dict(q.split("=", 1) for q in flags.get("query", []))
        body = json.loads(flags["d"]) if isinstance(flags.get("d"), str) else None
        status, doc = membrane.proxy(str(flags.get("X", "GET")), positional[2], body, query)
        save()
    else:
        print(f"unknown command: {' '.join(positional)}", file=sys.stderr)
        return 2
    if status >= 400:
        return fail(status, doc)
    # `request` prints the upstream body as it came (JSON from Infobip): assumed, like the
    # rest of the CLI's output (CONTRACT.md 1.3).
    print(json.dumps(doc) if as_json or positional[:1] == ["request"] else doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

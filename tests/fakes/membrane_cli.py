#!/usr/bin/env python3
"""A fake `membrane` executable (docs/membrane.md, The fake Membrane), backed by FakeMembrane.

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

# Run as a script, this file's directory is on sys.path but the repository is not.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fakes.membrane import FakeInfobip, FakeMembrane, error

# The failures a mode forces, as (status, Membrane's error document).
FORCED = {
    "not_logged_in": (
        401,
        error("bad_request", "not_authenticated", "not logged in: run membrane login"),
    ),
    "rate_limit": (429, error("bad_request", "rate_limit_exceeded", "too many requests")),
    "fail": (500, error("internal", None, "forced failure")),
}


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


class Invocation:
    """One run of the executable: the shared state file, the fake, the parsed argv."""

    def __init__(self, argv: list[str]) -> None:
        self.state_path = Path(
            os.environ.get("FAKE_MEMBRANE_STATE", "/tmp/fake-membrane-state.json")
        )
        self.mode = os.environ.get("FAKE_MEMBRANE_MODE", "ok")
        self.state = json.loads(self.state_path.read_text()) if self.state_path.exists() else {}
        self.state.setdefault("calls", []).append(argv)
        self.infobip = FakeInfobip()
        self.infobip.sent.update(self.state.get("sent", {}))
        self.infobip.reported.update(self.state.get("reported", []))
        # ---- issue 13: the 2FA state between runs ----
        for name in ("pins", "tfa_apps", "tfa_templates", "hlr", "invalid_emails"):
            if name in self.state:
                setattr(self.infobip, name, self.state[name])
        # ---- end of issue 13 ----
        self.membrane = FakeMembrane(
            connection_id=os.environ.get("FAKE_MEMBRANE_CONNECTION", "con_fake"),
            infobip=self.infobip,
        )
        self.positional, self.flags = _argv(argv)
        self.as_json = bool(self.flags.get("json"))

    def save(self) -> None:
        self.state["sent"] = self.infobip.sent
        self.state["reported"] = sorted(self.infobip.reported)
        # ---- issue 13 ----
        for name in ("pins", "tfa_apps", "tfa_templates", "hlr", "invalid_emails"):
            self.state[name] = getattr(self.infobip, name)
        # ---- end of issue 13 ----
        self.state_path.write_text(json.dumps(self.state))

    def fail(self, doc: dict[str, Any]) -> int:
        if self.as_json:
            print(json.dumps(doc))
        print(doc.get("message", "error"), file=sys.stderr)
        return 1

    def call(self) -> tuple[int, Any] | None:
        """What the command answers, as (status, document); None for an unknown command."""
        positional, flags, membrane = self.positional, self.flags, self.membrane
        command = positional[:2]
        if command == ["action", "run"] and len(positional) >= 3:
            payload = json.loads(flags.get("input", "{}"))
            answer = membrane.run(positional[2], flags.get("connectionId"), payload)
            self.save()
            if self.mode == "apply_then_hang":
                time.sleep(3600)
            return answer
        if command == ["action", "list"]:
            return membrane.actions(flags.get("connectionId"))
        if command == ["connection", "list"]:
            return membrane.connections()
        if positional[:1] == ["request"] and len(positional) >= 3:
            if positional[1] != membrane.connection_id:
                return 404, error("bad_request", "not_found", "Connection not found")
            query = dict(q.split("=", 1) for q in flags.get("query", []))
            body = json.loads(flags["d"]) if isinstance(flags.get("d"), str) else None
            answer = membrane.proxy(str(flags.get("X", "GET")), positional[2], body, query)
            self.save()
            return answer
        return None

    def run(self) -> int:
        self.save()
        latency = float(os.environ.get("FAKE_MEMBRANE_LATENCY", "0") or 0)
        if latency:
            time.sleep(latency)
        if self.mode == "hang":
            time.sleep(3600)
        if self.mode == "garbage":
            print("Welcome to membrane! (not json)")
            return 0
        if "FAKE_MEMBRANE_EXIT" in os.environ:
            print("forced failure", file=sys.stderr)
            return int(os.environ["FAKE_MEMBRANE_EXIT"])
        if self.mode in FORCED:
            return self.fail(FORCED[self.mode][1])
        try:
            answer = self.call()
        except json.JSONDecodeError as exc:
            print(f"--input or -d is not valid JSON: {exc}", file=sys.stderr)
            return 2
        if answer is None:
            print(f"unknown command: {' '.join(self.positional)}", file=sys.stderr)
            return 2
        status, doc = answer
        if status >= 400:
            return self.fail(doc)
        # `request` prints the upstream body as it came (JSON from Infobip): assumed, like the
        # rest of the CLI's output (docs/membrane.md, Assumed).
        print(json.dumps(doc) if self.as_json or self.positional[:1] == ["request"] else doc)
        return 0


def main() -> int:
    return Invocation(sys.argv[1:]).run()


if __name__ == "__main__":
    raise SystemExit(main())

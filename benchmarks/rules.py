"""Rule evaluation benchmark: 100 rules over a mix of inbound messages and delivery reports,
pure evaluation (facts -> decisions, guards included), against a baseline measured in the same
run: the least any keyword matcher must do per event (fold the text into words, one set
look-up).

    python benchmarks/rules.py [--events 200000] [--rules 100]

Target: >= 50,000 events/s with 100 rules.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import figure  # noqa: E402

WORDS = [f"kw{i}" for i in range(60)]


def rules_text(count: int) -> str:
    """A realistic file: mostly keyword rules, some phrases and patterns, report rules, and
    catch-alls with conditions, some capped or with quiet hours."""
    parts = ['own_numbers = ["447860099299"]\n[limits]\nglobal = "100000/1m"\n']
    made = 0

    def rule(body: str) -> None:
        nonlocal made
        parts.append(f'[[rules]]\nname = "r{made}"\n{body}\n')
        made += 1

    for i, word in enumerate(WORDS[: int(count * 0.6)]):
        # Half the replies are text tables by language: the language of each message is
        # guessed when one fires (events/rules/language.py).
        text = (
            f'{{ en = "About {word}: {{text}}", es = "Sobre {word}: {{text}}" }}'
            if i % 2
            else f'"About {word}: {{text}}"'
        )
        rule(
            f'when = {{ channel = ["sms", "whatsapp"], kind = "inbound", first_word = ["{word}"] }}'
            f'\ncap = "5/1h"\ndo = [{{ type = "reply", text = {text} }}]'
        )
    for i in range(int(count * 0.1)):
        rule(
            f'when = {{ kind = "inbound", contains = ["phrase {i} here"] }}\n'
            'do = [{ type = "tag", tags = ["phrase"] }]'
        )
    for i in range(int(count * 0.05)):
        rule(
            f'when = {{ kind = "inbound", regex = "order\\\\s+#?{i}\\\\d{{3}}" }}\n'
            'do = [{ type = "tag", tags = ["order"] }]'
        )
    for i, group in enumerate(("undeliverable", "rejected", "expired", "undeliverable") * 3):
        if i >= int(count * 0.1):
            break
        rule(
            f'match = "all"\nwhen = {{ kind = "delivery", state = "{group}", '
            f'error_group = ["HANDSET_ERRORS", "USER_ERRORS"], error_name = "ERR{i}" }}\n'
            'do = [{ type = "tag", tags = ["failed"] }]'
        )
    for i in range(int(count * 0.05)):
        rule(
            f'when = {{ kind = "delivery", callback_data_prefix = ["campaign-{i}-"] }}\n'
            'match = "all"\ndo = [{ type = "tag", tags = ["campaign"] }]'
        )
    while made < count:
        rule(
            'when = { kind = "inbound", sender = ["4479*"], within_hours = { start = "09:00", '
            'end = "17:00", tz = "Europe/London", days = "mon-fri" } }\n'
            'quiet_hours = { start = "21:00", end = "08:00", tz = "Europe/London" }\n'
            'do = [{ type = "reply", text = "Thanks" }]'
        )
    return "".join(parts)


def make_events(n: int, heavy: bool) -> list[dict[str, object]]:
    """Half inbound, half reports. heavy: nearly every event fires a rule (the worst case);
    otherwise about a third do (most reports say DELIVERED, most texts match no keyword)."""
    rng = random.Random(7)
    campaigns = 20 if heavy else 400
    uk_share = 0.5 if heavy else 0.1
    out: list[dict[str, object]] = []
    for i in range(n):
        if i % 2:
            state = rng.choice(["delivered"] * 6 + ["undeliverable", "rejected", "expired"])
            out.append(
                {
                    "channel": rng.choice(["sms", "whatsapp", "email"]),
                    "kind": "delivery",
                    "direction": "outbound",
                    "state": state,
                    "status_group": state.upper(),
                    "error_group": "OK"
                    if state == "delivered"
                    else rng.choice(["HANDSET_ERRORS", "USER_ERRORS"]),
                    "error_name": "NO_ERROR"
                    if state == "delivered"
                    else f"ERR{rng.randrange(12 if heavy else 30)}",
                    "recipient": f"4179{rng.randrange(10**7):07d}",
                    "callback_data": f"campaign-{rng.randrange(campaigns)}-{i}",
                    "message_id": f"m{i}",
                }
            )
        else:
            others = ["hello", "thanks", "yes", "Order", "what"] * (1 if heavy else 20)
            first = rng.choice([*WORDS, *others])
            text = f"{first.upper()} {rng.choice(['please', 'phrase 3 here', '#1234', 'now'])}"
            out.append(
                {
                    "channel": rng.choice(["sms", "whatsapp"]),
                    "kind": "inbound",
                    "direction": "inbound",
                    "state": "received",
                    "sender": ("4479" if rng.random() < uk_share else "4179")
                    + f"{rng.randrange(10**7):07d}",
                    "recipient": "447860099299",
                    "text": text,
                    "message_id": f"i{i}",
                }
            )
    return out


def cold_keys() -> None:
    """Forget the contact keys already parsed (events/contacts.py caches them): otherwise the
    loop that runs second finds every number keyed and looks faster than it is."""
    from events.contacts import parse_phone, wire_key

    parse_phone.cache_clear()
    wire_key.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rules", type=int, default=100)
    args = parser.parse_args()

    from events.channels.registry import SEND_ACTIONS
    from events.membrane.catalogue import ACTIONS
    from events.rules.engine import Facts, History, evaluate
    from events.rules.load import parse_rules

    rules = parse_rules(
        tomllib.loads(rules_text(args.rules)),
        catalogue_keys=tuple(ACTIONS),
        send_channels=tuple(SEND_ACTIONS),
    )
    assert len(rules.rules) == args.rules, len(rules.rules)
    start_at = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)
    step = timedelta(milliseconds=5)
    print(f"rules: {len(rules.rules)}, events: {args.events} (half inbound, half reports)")
    for heavy in (False, True):
        events = make_events(args.events, heavy)

        # Baseline: make the facts (fold the text into words), one set look-up; nothing else.
        keywords = frozenset(WORDS)
        cold_keys()  # both loops key every number afresh, as a new batch of reports does
        started = time.perf_counter()
        hits = 0
        for item in events:
            facts = Facts(**item)  # type: ignore[arg-type]
            hits += bool(facts.words) and facts.words[0] in keywords
        baseline = len(events) / (time.perf_counter() - started)

        history = History()
        cold_keys()
        started = time.perf_counter()
        fired = decided = 0
        now = start_at
        for item in events:
            facts = Facts(**item)  # type: ignore[arg-type]
            if facts.channel == "whatsapp" and facts.direction == "inbound" and facts.contact:
                # As the processor does: the message opens its WhatsApp session first, so
                # that the reply to it is text inside the 24-hour window.
                ours = facts.recipient_contact or ""
                history.sessions[(facts.contact, "whatsapp", ours)] = now
            for decision in evaluate(rules, facts, history, now):
                decided += 1
                fired += decision.acts
            now += step
        rate = len(events) / (time.perf_counter() - started)
        name = "nearly every event fires (worst case)" if heavy else "typical mix"
        print(f"\n{name}: {decided} decisions for {len(events)} events ({fired} fired)")
        print(f"  baseline (facts + one look-up): {baseline:,.0f} events/s")
        print(
            f"  rule evaluation:                {rate:,.0f} events/s  "
            f"(ratio {rate / baseline:.2f}x of the baseline; target >= 50,000/s: "
            f"{'met' if rate >= 50_000 else 'missed'})"
        )
        figure(
            f"rule evaluation, {len(rules.rules)} rules, {name}",
            ">= 50,000 events/s",
            f"{rate:,.0f} events/s",
            rate / baseline,
            f"facts + one look-up {baseline:,.0f} events/s",
            "time.perf_counter",
            rate >= 50_000,
        )


if __name__ == "__main__":
    main()

"""The overview's figures, from the window's counts (storage/queries/console.py traffic): per
channel, outbound messages sent and how they ended, as counts and rates of those sent, inbound
messages received, and a small bar chart of sent (and failed) per bucket. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from storage.queries.console import BUCKET_WIDTHS, TrafficCount

# The windows a person can choose, with the bucket of each one's chart. Each is counted live
# from the messages created in it, so the longest is two days: on SQLite, with 18,000 messages
# a day, three days took 0.4-0.6 s to count on a loaded machine and a week 0.5-0.9 s
# (benchmarks/console.py).
WINDOWS: dict[str, tuple[timedelta, str]] = {
    "1h": (timedelta(hours=1), "minute"),
    "6h": (timedelta(hours=6), "hour"),
    "24h": (timedelta(hours=24), "hour"),
    "48h": (timedelta(hours=48), "hour"),
}
DEFAULT_WINDOW = "24h"
STEPS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
# The outcome columns, in the contract's state names; "unknown" also counts "pending" (sent,
# no report yet).
OUTCOMES = ("delivered", "undeliverable", "expired", "rejected", "unknown")
FAILED = frozenset({"undeliverable", "expired", "rejected"})
CHART_WIDTH = 180
CHART_HEIGHT = 32


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    width: float
    sent_height: float
    failed_height: float
    label: str


@dataclass(slots=True)
class ChannelFigures:
    """One row of the overview."""

    channel: str
    sent: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    inbound: int = 0
    series: dict[str, tuple[int, int]] = field(default_factory=dict)  # bucket: (sent, failed)
    bars: list[Bar] = field(default_factory=list)

    def rate(self, outcome: str) -> str:
        if not self.sent:
            return "-"
        return f"{100 * self.outcomes[outcome] / self.sent:.1f}%"


def bucket_labels(since: datetime, now: datetime, unit: str) -> list[str]:
    """Every bucket of the window, oldest first, named as the query names them (UTC)."""
    width = BUCKET_WIDTHS[unit]
    step = STEPS[unit]
    labels: list[str] = []
    moment = since
    while moment <= now:
        label = moment.strftime("%Y-%m-%d %H:%M")[:width]
        if not labels or labels[-1] != label:
            labels.append(label)
        moment += step
    last = now.strftime("%Y-%m-%d %H:%M")[:width]
    if labels[-1] != last:
        labels.append(last)
    return labels


def _add(row: ChannelFigures, count: TrafficCount) -> None:
    if count.direction == "inbound":
        row.inbound += count.count
        return
    row.sent += count.count
    outcome = count.state if count.state in row.outcomes else "unknown"
    row.outcomes[outcome] += count.count
    sent, failed = row.series.get(count.bucket, (0, 0))
    row.series[count.bucket] = (
        sent + count.count,
        failed + (count.count if count.state in FAILED else 0),
    )


def _bars(row: ChannelFigures, labels: list[str], tallest: int) -> list[Bar]:
    width = CHART_WIDTH / len(labels)
    out: list[Bar] = []
    for i, label in enumerate(labels):
        sent, failed = row.series.get(label, (0, 0))
        scale = CHART_HEIGHT / tallest if tallest else 0.0
        tip = f"{label}: {sent} sent, {failed} failed"
        out.append(Bar(i * width, max(width - 1, 0.5), sent * scale, failed * scale, tip))
    return out


def figures(
    counts: Iterable[TrafficCount], since: datetime, now: datetime, unit: str
) -> list[ChannelFigures]:
    """One row per channel seen in the window, by name, then a row for all channels."""
    rows: dict[str, ChannelFigures] = {}
    total = ChannelFigures("all channels")
    for count in counts:
        _add(rows.setdefault(count.channel, ChannelFigures(count.channel)), count)
        _add(total, count)
    ordered = [rows[name] for name in sorted(rows)]
    if len(ordered) > 1:
        ordered.append(total)
    labels = bucket_labels(since, now, unit)
    for row in ordered:
        tallest = max((sent for sent, _ in row.series.values()), default=0)
        row.bars = _bars(row, labels, tallest)
    return ordered

"""What the fake Infobip answers about the account (balance, own numbers, CPaaS X applications
and entities), in the shapes of Infobip's documented answers, paged as Infobip pages them.
FakeInfobip holds one (`account`), and FakeMembrane's proxy asks it first."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


def _number(index: int, number: str, country: str = "GB") -> dict[str, Any]:
    return {
        "numberKey": f"58B3840032C7774BAC840EEEA2C23A{index:02d}",
        "number": number,
        "country": country,
        "type": "VIRTUAL_LONG_NUMBER",
        "capabilities": ["SMS", "VOICE"],
        "shared": False,
    }


@dataclass
class FakeAccount:
    balance: Decimal = Decimal("47.79134")
    currency: str = "EUR"
    numbers: list[dict[str, Any]] = field(
        default_factory=lambda: [
            _number(1, "447860041117"),
            _number(2, "41793026700", "CH"),
            _number(3, "385921004026", "HR"),
        ]
    )
    applications: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"applicationId": "marketing-automation-application", "applicationName": "Marketing"},
            {"applicationId": "default", "applicationName": "Default application"},
        ]
    )
    entities: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"entityId": "promotional-traffic-entity", "entityName": "Promotions"},
        ]
    )
    calls: list[str] = field(default_factory=list)

    def answer(self, method: str, path: str, query: dict[str, str]) -> tuple[int, Any] | None:
        """Infobip's answer to an account read, or None when the path is not one of them."""
        if method != "GET":
            return None
        path = "/" + path.strip("/")
        if path == "/account/1/balance":
            self.calls.append(path)
            # A JSON number, as Infobip writes it (the client reads it as an exact decimal).
            return 200, {"balance": float(self.balance), "currency": self.currency}
        if path == "/numbers/1/numbers":
            self.calls.append(path)
            return 200, self._numbers(query)
        if path in ("/provisioning/1/applications", "/provisioning/1/entities"):
            self.calls.append(path)
            items = self.applications if path.endswith("applications") else self.entities
            return 200, _paged(items, query)
        return None

    def _numbers(self, query: dict[str, str]) -> dict[str, Any]:
        """Numbers pages: `page` from 0, `size` numbers each; numberCount is the total."""
        page, size = int(query.get("page", "0")), int(query.get("size", "50"))
        chosen = self.numbers[page * size : (page + 1) * size]
        return {"numbers": chosen, "numberCount": len(self.numbers)}


def _paged(items: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
    page, size = int(query.get("page", "0")), int(query.get("size", "20"))
    pages = -(-len(items) // size) if size else 0
    return {
        "results": items[page * size : (page + 1) * size],
        "paging": {
            "page": page,
            "size": size,
            "totalPages": pages,
            "totalResults": len(items),
        },
    }

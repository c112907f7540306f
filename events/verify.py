"""Webhook authentication over the raw request. Every configured mode must pass.

Infobip subscriptions send HTTP Basic or an HMAC signature; notification profiles can add a
static header; a per-message notifyUrl can only carry a token in its query string; and the
source addresses are published (docs/infobip.md, Webhook security). Secrets are compared in
constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from events.config import Settings

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(items: list[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)


def _in(address: str | None, networks: tuple[IPNetwork, ...]) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)


@dataclass(frozen=True, slots=True)
class Verifier:
    basic_user: bytes | None
    basic_password: bytes | None
    token: bytes | None
    token_header: str
    token_query: str
    hmac_secret: bytes | None
    hmac_header: str | None
    hmac_algorithm: str
    hmac_encoding: str
    hmac_timestamp_header: str | None
    hmac_max_age: int
    allowed: tuple[IPNetwork, ...]
    trusted_proxies: tuple[IPNetwork, ...]
    clock: Callable[[], float] = time.time

    @classmethod
    def from_settings(cls, settings: Settings, clock: Callable[[], float] = time.time) -> Verifier:
        def secret(value: object) -> bytes | None:
            if value is None:
                return None
            return str(value.get_secret_value()).encode()  # type: ignore[attr-defined]

        return cls(
            basic_user=settings.webhook_username.encode() if settings.webhook_username else None,
            basic_password=secret(settings.webhook_password),
            token=secret(settings.webhook_token),
            token_header=settings.webhook_token_header.lower(),
            token_query=settings.webhook_token_query,
            hmac_secret=secret(settings.webhook_hmac_secret),
            hmac_header=settings.webhook_hmac_header.lower()
            if settings.webhook_hmac_header
            else None,
            hmac_algorithm=settings.webhook_hmac_algorithm,
            hmac_encoding=settings.webhook_hmac_encoding,
            hmac_timestamp_header=(
                settings.webhook_hmac_timestamp_header.lower()
                if settings.webhook_hmac_timestamp_header
                else None
            ),
            hmac_max_age=settings.webhook_hmac_max_age_seconds,
            allowed=_networks(settings.webhook_allowed_ips),
            trusted_proxies=_networks(settings.trusted_proxies),
            clock=clock,
        )

    @property
    def secret_headers(self) -> frozenset[str]:
        """Headers that carry secrets: never stored with the raw row, never logged."""
        names = {"authorization", self.token_header}
        if self.hmac_header:
            names.add(self.hmac_header)
        return frozenset(names)

    def client_ip(self, peer: str | None, forwarded_for: str | None) -> str | None:
        """The caller's address. X-Forwarded-For counts only when the peer is a trusted proxy,
        and then only its entries added by trusted proxies: walk it from the right and take the
        first address that is not one of ours."""
        if not forwarded_for or not _in(peer, self.trusted_proxies):
            return peer
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        for hop in reversed(hops):
            if not _in(hop, self.trusted_proxies):
                return hop
        return hops[0] if hops else peer

    def check_address(self, client_ip: str | None) -> str | None:
        """None when allowed, else the reason. Runs before the body is read."""
        if self.allowed and not _in(client_ip, self.allowed):
            return "address not allowed"
        return None

    def check(
        self,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        body: bytes,
    ) -> str | None:
        """None when every configured mode passes, else the first reason it failed."""
        if self.basic_user is not None and self.basic_password is not None:
            reason = self._basic(headers.get("authorization"))
            if reason:
                return reason
        if self.token is not None:
            given = headers.get(self.token_header)
            if given is None:
                given = query.get(self.token_query)
            if given is None:
                return "token missing"
            if not hmac.compare_digest(given.encode(), self.token):
                return "token wrong"
        if self.hmac_secret is not None and self.hmac_header:
            reason = self._signature(headers, body)
            if reason:
                return reason
        return None

    def _basic(self, header: str | None) -> str | None:
        if not header:
            return "basic credentials missing"
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return "basic credentials missing"
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return "basic credentials malformed"
        if not sep:
            return "basic credentials malformed"
        assert self.basic_user is not None and self.basic_password is not None
        # Both comparisons always run, so timing does not say which half was wrong.
        ok_user = hmac.compare_digest(user, self.basic_user)
        ok_password = hmac.compare_digest(password, self.basic_password)
        return None if ok_user and ok_password else "basic credentials wrong"

    def _signature(self, headers: Mapping[str, str], body: bytes) -> str | None:
        assert self.hmac_secret is not None and self.hmac_header is not None
        given = headers.get(self.hmac_header)
        if not given:
            return "signature missing"
        signed = body
        if self.hmac_timestamp_header:
            stamp = headers.get(self.hmac_timestamp_header)
            if not stamp:
                return "signature timestamp missing"
            try:
                seconds = float(stamp)
            except ValueError:
                return "signature timestamp malformed"
            if seconds > 100_000_000_000:  # milliseconds
                seconds /= 1000
            if abs(self.clock() - seconds) > self.hmac_max_age:
                return "signature expired"
            signed = stamp.encode() + b"." + body
        digest = hmac.new(self.hmac_secret, signed, self.hmac_algorithm).digest()
        value = given.strip()
        # Some senders prefix the algorithm, as in "sha256=<hex>".
        for prefix in (f"{self.hmac_algorithm}=", f"hmac-{self.hmac_algorithm}="):
            if value.lower().startswith(prefix):
                value = value[len(prefix) :]
                break
        given_bytes = value.encode()
        matched = False
        if self.hmac_encoding in ("hex", "auto"):
            matched |= hmac.compare_digest(value.lower().encode(), digest.hex().encode())
        if self.hmac_encoding in ("base64", "auto"):
            matched |= hmac.compare_digest(given_bytes, base64.b64encode(digest))
            matched |= hmac.compare_digest(given_bytes, base64.urlsafe_b64encode(digest))
        return None if matched else "signature wrong"


def hmac_signature(
    secret: bytes, body: bytes, algorithm: str = "sha256", encoding: str = "hex"
) -> str:
    """What a sender computes; used by tests and by people checking their set-up."""
    digest = hmac.new(secret, body, algorithm).digest()
    if encoding == "base64":
        return base64.b64encode(digest).decode()
    return digest.hex()

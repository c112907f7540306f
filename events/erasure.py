"""The keyed hash an erased contact is kept as (events/forget.py erases; this checks).

After `contacts forget`, nothing names the contact any more, but it must still never be
messaged: its key (events/contacts.py) is kept as HMAC-SHA256 under INFOBIP_EVENTS_ERASURE_KEY.
The key lives outside the database on purpose: phone numbers are few enough that an unkeyed
(or keyed-in-the-database) hash could be reversed by trying them all.

Each hash is stored with the key's id (a fingerprint, not the key). A hash made under another
key can never match, so a service whose key differs from the one the erasures were made with
refuses to start (`key_problem`), rather than quietly message the people who were erased.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection

from storage.queries.erasure import erased_hashes_among, other_key_ids

# How an erased contact is written where a contact is expected (the opt-out audit trail).
LABEL = "erased:"
# What an audit row calls a contact refused because erasures exist that this process cannot
# check (made under a key it does not hold): see OptOutPolicy.erased_labels.
UNCHECKABLE = LABEL + "unchecked"


@dataclass(frozen=True)
class ErasureKey:
    secret: bytes = field(repr=False)

    @classmethod
    def of(cls, secret: str) -> ErasureKey:
        return cls(secret.encode())

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"infobip-events erasure key id\0" + self.secret).hexdigest()[:16]

    def hash(self, contact: str) -> str:
        """Of a contact key (E.164, a case-folded address): never of a raw writing."""
        return hmac.new(self.secret, contact.encode(), hashlib.sha256).hexdigest()

    def label(self, contact: str) -> str:
        return LABEL + self.hash(contact)

    def erased_among(self, conn: Connection, contacts: Iterable[str]) -> set[str]:
        """Which of these contact keys were erased."""
        by_hash = {self.hash(c): c for c in contacts}
        return {by_hash[h] for h in erased_hashes_among(conn, list(by_hash))}


def key_problem(conn: Connection, key: ErasureKey | None) -> str | None:
    """Why the service must not start with this key (None: it may)."""
    others = other_key_ids(conn, key.key_id if key else None)
    if not others:
        return None
    if key is None:
        return (
            "contacts were erased under INFOBIP_EVENTS_ERASURE_KEY, which is not set: without "
            "it they could be messaged again. Set the key they were erased with"
        )
    return (
        "contacts were erased under another INFOBIP_EVENTS_ERASURE_KEY (key id "
        f"{', '.join(sorted(others))}; this one is {key.key_id}): under this key they could be "
        "messaged again. Set the key they were erased with"
    )

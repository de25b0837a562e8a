"""What the registry keeps off the chain (adapters/sql/registry.py implements it)."""

from __future__ import annotations

from typing import Final, Protocol

import msgspec

PENDING: Final = "pending"
APPROVED: Final = "approved"
REFUSED: Final = "refused"


class ApplicationRecord(msgspec.Struct, frozen=True):
    """One application as stored. `sealed` holds the BRN, the bank account and the status
    token under the master key; `sealed_password` the owner's password until the log-in
    is made (then None)."""

    id: str
    city: str
    status: str
    merchant: str
    token_hash: str
    idem_key: str
    request_hash: str
    brn_hash: str
    name: str
    name_en: str
    industry: str
    category: str
    area: str
    revenue: int
    owner_username: str
    account_mask: str
    sealed: bytes
    sealed_password: bytes | None
    reason: str
    created_ms: int
    decided_ms: int


class Decision(msgspec.Struct, frozen=True):
    """A proposal that carries one step of a registry decision about `subject`."""

    proposal: str
    subject: str
    step: str
    created_ms: int


class Sealer(Protocol):
    """Seals secrets under the master key (adapters/secrets.MasterKey is one)."""

    def seal(self, plaintext: bytes, context: bytes) -> bytes: ...

    def open(self, blob: bytes, context: bytes) -> bytes: ...


Row = tuple[object, ...]


def record_of(row: Row) -> ApplicationRecord:
    """A stored row (the fields of ApplicationRecord in order) as a record."""
    return msgspec.convert(dict(zip(ApplicationRecord.__struct_fields__, row, strict=True)),
                           ApplicationRecord)  # fmt: skip


def row_of(record: ApplicationRecord) -> Row:
    return msgspec.structs.astuple(record)


class RegistryRepository(Protocol):
    """Plain rows in and out: an application's row is `row_of` its record."""

    def salt(self, city: str, fresh: str) -> str:
        """The city's registration-hash salt; `fresh` is kept if it has none yet."""
        ...

    def add(self, row: Row) -> bool:
        """False if the city already has an application with this idempotency key."""
        ...

    def by_idem_key(self, city: str, idem_key: str) -> Row | None: ...

    def by_token(self, city: str, token_hash: str) -> Row | None: ...

    def get(self, city: str, application: str) -> Row | None: ...

    def by_merchant(self, city: str, merchant: str) -> Row | None: ...

    def page(self, city: str, status: str | None, limit: int) -> list[Row]: ...

    def taken(
        self, city: str, brn_hash: str, owner_username: str, refused: str
    ) -> tuple[bool, bool]:
        """Is this BRN / owner log-in in an application not `refused` already?"""
        ...

    def decide(
        self, city: str, application: str, status: str, reason: str, now: int, pending: str
    ) -> bool:
        """`pending` -> `status`; False if it was no longer pending."""
        ...

    def forget_password(self, city: str, application: str) -> None: ...

    def add_decision(
        self, city: str, proposal: str, subject: str, step: str, created_ms: int
    ) -> None: ...

    def decisions(self, city: str, subject: str) -> list[tuple[str, str, str, int]]:
        """(proposal, subject, step, created_ms), oldest first."""
        ...

"""What exactly-once answers need from storage: the answers given to Idempotency-Keys.

Its own small capability, below every feature and depending on none: any entrypoint
that accepts retried writes (the API today) answers a repeated key from here. Not in
services/cities, which is about ledgers; exactly-once of the commands themselves is
services/cities/command_ids.py, this is exactly-once of the answers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple, Protocol


class Answer(NamedTuple):
    """One recorded answer: whose key, the key, and what was answered."""

    scope: str
    key: str
    request_hash: str
    status: int
    body: bytes
    media_type: str
    created_ms: int


#: What a lookup gives back: (request_hash, status, body, media_type).
Found = tuple[str, int, bytes, str]


class IdempotencyRepository(Protocol):
    def find(self, scope: str, key: str) -> Found | None: ...

    def recorded(self) -> Iterator[tuple[str, str]]:
        """Every (scope, key) answered so far, read in pages: what a server starting needs
        to know which keys could be in the table at all (the others need no look-up)."""
        ...

    def keep(self, answers: Sequence[Answer]) -> None:
        """Record answers durably in one commit; a (scope, key) already recorded keeps
        its first answer (a key answered by an earlier process is never overwritten)."""
        ...

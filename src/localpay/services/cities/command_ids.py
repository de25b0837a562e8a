"""Ids of the commands the server builds for people who sign in (staff, officials).

A citizen's client makes its own command id, so a retry of the same signed bytes can
never apply twice. Commands the server builds on someone's behalf need the same
guarantee, and it must not depend on anything the server remembers after answering:
the id is derived from who asks (the principal, stable across sessions), what they
ask for (the purpose) and their Idempotency-Key. A retry after a timeout, a lost
answer or a `kill -9` rebuilds the same command with the same id, and the ledger
answers it with the original receipt instead of applying it again.
"""

from __future__ import annotations

import hashlib
from typing import Final

_PREFIX: Final = b"localpay/server-command/v1\n"


def derived_id(city: str, principal: str, purpose: str, idempotency_key: str) -> str:
    """A 128-bit command id (32 hex digits) unique to (city, principal, purpose, key)."""
    material = "\n".join((city, principal, purpose, idempotency_key)).encode()
    return hashlib.sha256(_PREFIX + material).hexdigest()[:32]

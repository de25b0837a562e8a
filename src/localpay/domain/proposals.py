"""A maker-checker proposal as it is kept: the command body officials sign, who signed.

Off the chain (the chain holds only the command, once it has its signatures). Pure
data, so the approvals service and the repository that stores it share one shape.
"""

from __future__ import annotations

from typing import Final

import msgspec

from localpay.domain.commands import Signature

PENDING: Final = "pending"
SUBMITTED: Final = "submitted"
REJECTED: Final = "rejected"


class Proposal(msgspec.Struct, frozen=True):
    id: str
    city: str
    kind: str
    #: The canonical command body, the exact bytes each official signs.
    body: bytes
    #: The signatures collected so far, the maker's first.
    sigs: tuple[Signature, ...]
    maker: str
    status: str
    #: The ledger's receipt (JSON) once submitted.
    outcome: str | None
    created_ms: int

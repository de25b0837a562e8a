"""What the maker-checker service returns: a proposal as officials see it."""

from __future__ import annotations

from typing import Any

import msgspec

from localpay.domain.proposals import Proposal


class ProposalView(msgspec.Struct, frozen=True):
    id: str
    kind: str
    #: The command the proposal will submit, as JSON.
    command: dict[str, Any]
    #: The exact bytes an official signs (Ed25519 over SIGNING_PREFIX + body).
    body: str
    signed_by: list[str]
    maker: str
    status: str
    #: The ledger's receipt once submitted.
    receipt: dict[str, Any] | None
    created_ms: int


def proposal_view(p: Proposal) -> ProposalView:
    return ProposalView(
        id=p.id,
        kind=p.kind,
        command=msgspec.json.decode(p.body),
        body=p.body.decode(),
        signed_by=[s.key for s in p.sigs],
        maker=p.maker,
        status=p.status,
        receipt=msgspec.json.decode(p.outcome) if p.outcome else None,
        created_ms=p.created_ms,
    )

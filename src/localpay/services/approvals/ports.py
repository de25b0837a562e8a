"""What the approvals service needs from storage: its proposals, nothing else."""

from __future__ import annotations

from typing import Protocol

from localpay.domain.commands import Signature
from localpay.domain.proposals import Proposal


class ProposalRepository(Protocol):
    def add(self, proposal: Proposal) -> bool:
        """Keep a new proposal; False, and nothing changed, if its id is taken (a retry)."""
        ...

    def find(self, city: str, proposal_id: str) -> Proposal | None: ...

    def add_signature(
        self, proposal_id: str, seen: tuple[Signature, ...], sigs: tuple[Signature, ...]
    ) -> bool:
        """Compare-and-set: `sigs` replace `seen` only if the proposal is still pending
        with exactly `seen`; False if another decision came first."""
        ...

    def reject(self, city: str, proposal_id: str, seen: tuple[Signature, ...]) -> bool:
        """Mark it rejected if still pending with exactly `seen`; False otherwise."""
        ...

    def submitted(self, proposal_id: str, outcome: str) -> None:
        """Mark it submitted with the ledger's receipt (JSON)."""
        ...

    def page(
        self, city: str, status: str | None, before: tuple[int, str], limit: int
    ) -> list[Proposal]:
        """Newest first, strictly before (created_ms, id)."""
        ...

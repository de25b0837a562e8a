"""Signing and submitting a job's commands, and what came of them.

Every command a job makes has an id derived from the city, the job and what it is about
(services/cities/command_ids.derived_id): a re-run, or a run after a crash that lost the
answers, submits the same id and the ledger answers with the original receipt, marked
duplicate, instead of applying it twice."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import nacl.signing

from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import sign_command
from localpay.services.cities.command_ids import derived_id
from localpay.services.cities.ledgers import Ledgers
from localpay.services.cities.officials import current_operator

#: The principal the jobs' command ids are derived under.
ACTOR: Final = "jobs"
#: Commands submitted at once (the sequencer's queue is bounded).
CHUNK: Final = 500


def job_id(city: str, kind: str, key: str) -> str:
    return derived_id(city, ACTOR, kind, key)


@dataclass
class Tally:
    """What a run did: commands accepted, answered as repeats, refused (by code)."""

    done: int = 0
    repeated: int = 0
    refused: dict[str, int] = field(default_factory=dict)

    def count(self, receipt: Receipt) -> None:
        if receipt.duplicate or receipt.code == Code.ID_REUSED:
            # A repeat: the original answer stands (id_reused: the same id signed by a
            # rotated operator key; the first command under it is the one that counts).
            self.repeated += 1
        elif receipt.ok:
            self.done += 1
        else:
            self.refused[receipt.code] = self.refused.get(receipt.code, 0) + 1

    def line(self) -> str:
        refused = ",".join(f"{k}={v}" for k, v in sorted(self.refused.items())) or "0"
        return f"done={self.done} repeated={self.repeated} refused={refused}"


def operator_signer(ledgers: Ledgers, city: str) -> Callable[[c.Command], bytes]:
    _, key = current_operator(ledgers, city)
    return lambda command: _sign(command, key)


def _sign(command: c.Command, key: nacl.signing.SigningKey) -> bytes:
    return sign_command(command, [key])


def submit_all(ledgers: Ledgers, city: str, envelopes: Sequence[bytes]) -> Tally:
    tally = Tally()
    for start in range(0, len(envelopes), CHUNK):
        for receipt in ledgers.execute_many(city, envelopes[start : start + CHUNK]):
            tally.count(receipt)
    return tally

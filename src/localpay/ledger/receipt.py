"""What the sequencer answers: a receipt once a command's block is durable, or why not.

The callers (the API, the CLI, the simulations) see only this module's types; how the
sequencer gets there is ledger/sequencer.py and ledger/handoff.py.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from localpay.domain.codes import REASONS, Code
from localpay.domain.errors import Unavailable
from localpay.ledger.blocks import BlockRecord, TxRecord
from localpay.ledger.results import Result


class Receipt(msgspec.Struct, frozen=True, omit_defaults=True):
    """The answer to one submitted command, given once its block is durable."""

    id: str
    code: str
    message: str = ""
    result: Result | None = None
    seq: int | None = None
    height: int | None = None
    duplicate: bool = False
    # (account, balance after) of the command's sender: private, never the leaf's. Only
    # for that account's eyes; see `balance_of` and the API's `receipt_response`.
    balances: tuple[tuple[str, int], ...] = ()
    # The limit that refused the command and the room it leaves (sales, grants): for the
    # sender's eyes too, and only on the first answer (the chain does not record them).
    limit: int | None = None
    room: int | None = None

    @property
    def ok(self) -> bool:
        return self.code == Code.OK

    def balance_of(self, account: str) -> int | None:
        """`account`'s balance after the command, if it sent it."""
        return dict(self.balances).get(account)


class BlockObserver(Protocol):
    """Told about every durable block (metrics, live feeds); must be quick and not raise."""

    def __call__(
        self, city: str, block: BlockRecord, results: list[Result], commit_seconds: float
    ) -> None: ...


class SequencerStopped(Unavailable):
    """The sequencer is not running (stopped, or failed on a store error)."""


class ClockSkew(SequencerStopped):
    """The clock jumped, or lags the chain head: nothing was sealed; retry later."""


class OperatorKeyMissing(SequencerStopped):
    """The chain's current operator key is not in this server's key store."""


class LookupFailed(Unavailable):
    """The store could not say whether a repeated id was applied: retry the same command."""


class Overloaded(Unavailable):
    """Too many commands are waiting; the caller should retry later."""


def receipt_of(tx: TxRecord, result: Result | None = None, duplicate: bool = False) -> Receipt:
    """The receipt of a stored transaction (its result decoded unless already at hand):
    the result as recorded, and the sender's balance apart, for the API to show to the
    sender alone."""
    result = result or tx.decoded_result()
    return Receipt(
        id=tx.id,
        code=result.code,
        message=REASONS[Code(result.code)],
        result=result.recorded(),
        seq=tx.seq,
        height=tx.height,
        duplicate=duplicate,
        balances=tx.balances,
        limit=result.limit,
        room=result.room,
    )

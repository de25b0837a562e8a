"""The recorded outcome of a command: a value, never an exception."""

from __future__ import annotations

import msgspec

from localpay.domain.codes import Code


class Result(msgspec.Struct, frozen=True, omit_defaults=True):
    """Code plus what a receipt needs: lots drawn or created, balance after."""

    code: str
    # [lot id, amount] pairs, in the order they were drawn or created.
    lots: list[tuple[str, int]] | None = None
    # A balance after the command, as the state machine computes it. Never recorded:
    # the leaf is shown to every party, and a balance is its owner's alone (see
    # `recorded` and ledger/privacy.py).
    balance: int | None = None
    # A limit that refused the command and the room it leaves (sales, grants), for the
    # one who asked. Never recorded either: the room is the person's own.
    limit: int | None = None
    room: int | None = None

    @property
    def ok(self) -> bool:
        return self.code == Code.OK

    def recorded(self) -> Result:
        """The result as the chain records it (the Merkle leaf): without any balance.

        The one place the split is made, for the sequencer that writes results and the
        replay that checks them, so the two can never disagree."""
        if self.balance is None and self.limit is None and self.room is None:
            return self
        return Result(code=self.code, lots=self.lots)


def rejected(code: Code) -> Result:
    return Result(code=code.value)


def over_limit(code: Code, limit: int, room: int) -> Result:
    """A refusal that names the limit and what is left of it."""
    return Result(code=code.value, limit=limit, room=max(room, 0))


OK = Result(code=Code.OK.value)

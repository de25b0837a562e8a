"""The recorded outcome of a command: a value, never an exception."""

from __future__ import annotations

import msgspec

from localpay.domain.codes import Code


class Result(msgspec.Struct, frozen=True, omit_defaults=True):
    """Code plus what a receipt needs: lots drawn or created, balance after."""

    code: str
    # [lot id, amount] pairs, in the order they were drawn or created.
    lots: list[tuple[str, int]] | None = None
    # The wallet's (or merchant's) balance after the command: receipts show it.
    balance: int | None = None

    @property
    def ok(self) -> bool:
        return self.code == Code.OK


def rejected(code: Code) -> Result:
    return Result(code=code.value)


OK = Result(code=Code.OK.value)

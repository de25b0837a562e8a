"""Builders for tests: one policy() for every test, a city driven straight through the
state machine, the small demo chain's record."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import nacl.signing

from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.domain.policy import Policy
from localpay.ledger import machine
from localpay.ledger.ports import Store
from localpay.ledger.results import Result
from localpay.ledger.signatures import public_key_hex
from localpay.ledger.state import CityState

#: 2026-05-29 05:26 KST: the time the state-machine tests' commands are applied at.
T0 = 1_780_000_000_000
_ids = itertools.count(1)


def command_id() -> str:
    """A new 128-bit command id (hex), unique in this test process."""
    return f"{next(_ids):032x}"


def new_key() -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey.generate()


#: The operator and the two officials of every RulesCity, and a key no city knows.
OPERATOR, MAKER, CHECKER, OUTSIDER = new_key(), new_key(), new_key(), new_key()


class RulesCity:
    """A city's state with its genesis applied, driven straight through the state machine
    (ledger/machine.apply): no sequencer, no store. `apply` runs a command as the given
    signers at `now` and returns its code (the whole result is `last`)."""

    def __init__(self, approvals: dict[str, int] | None = None, now: int = T0) -> None:
        self.state = CityState("gimpo")
        self.now = now
        genesis = c.CreateCity(
            id=command_id(),
            city="gimpo",
            name="김포시",
            currency="KRW",
            operator_key=public_key_hex(OPERATOR),
            officials=[
                c.Official(key=public_key_hex(MAKER), role="maker"),
                c.Official(key=public_key_hex(CHECKER), role="checker"),
            ],
            approvals=approvals or {},
            default_valid_days=1825,
        )
        assert self.apply(genesis, OPERATOR) == Code.OK

    def apply(self, command: c.Command, *signers: nacl.signing.SigningKey) -> str:
        result, _ = machine.apply(
            self.state, command, frozenset(public_key_hex(k) for k in signers), self.now
        )
        self.last: Result = result
        return result.code


@dataclass
class DemoChain:
    """A small simulated Gimpo chain (3 days) and a payment in its middle."""

    url: str
    store: Store
    pay_seq: int
    pay_height: int


def policy(name: str = "p", **overrides: object) -> Policy:
    """A program policy that allows everything and bounds nothing, but for `overrides`."""
    base: dict[str, object] = dict(
        name=name,
        allowed_categories=[],
        denied_categories=[],
        areas=[],
        revenue_cap=0,
        valid_until="",
        valid_days=0,
        per_payment_cap=0,
        daily_cap=0,
        monthly_cap=0,
        holding_cap=0,
        transferable=False,
        refundable=False,
    )
    base.update(overrides)
    return Policy(**base)  # type: ignore[arg-type]

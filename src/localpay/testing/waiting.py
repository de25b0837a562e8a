"""Test helpers of the waiting room: a clock in the test's hands, a room over a store,
and a city whose sale budget the ledger spends (for the budget-out behaviour)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import msgspec
import nacl.signing

from localpay.adapters.keystore import KeyStore
from localpay.adapters.secrets import master_key_from_environment
from localpay.adapters.sql.runner import SqlStore
from localpay.adapters.sql.waiting import SqlWaitingRepository
from localpay.domain import commands as c
from localpay.domain.policy import default_sale
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.cities.officials import OfficialSigner, create_city
from localpay.services.waiting.service import WaitingRoom
from localpay.sim import gimpo

#: 2026-12-01 09:00 KST, the opening the tests schedule.
OPENS = 1_796_083_200_000


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


def room_over(store: SqlStore, clock: Clock, **kwargs: object) -> WaitingRoom:
    repo = SqlWaitingRepository(store, master_key_from_environment())
    return WaitingRoom(repo, clock, **kwargs)  # type: ignore[arg-type]


@dataclass
class SaleCity:
    """A city with a "general" sale program of `budget` won of discount, and buyers."""

    ledgers: Ledgers
    city: str
    keys: dict[str, nacl.signing.SigningKey]

    def order(self, wallet: str, amount: int) -> str:
        cmd = c.OrderPurchase(
            id=new_id(), city=self.city, wallet=wallet, program="general", amount=amount
        )
        receipt = self.ledgers.execute(self.city, sign_command(cmd, [self.keys[wallet]]))
        return receipt.code


@contextmanager
def sale_city(store: SqlStore, keys: KeyStore, budget: int, when_out: str) -> Iterator[SaleCity]:
    ledgers = Ledgers(store, keys, lambda: OPENS + 1_000)
    try:
        yield _set_up(ledgers, "gimpo", budget, when_out)
    finally:
        ledgers.close()


def _set_up(ledgers: Ledgers, city: str, budget: int, when_out: str) -> SaleCity:
    create_city(ledgers, city, "김포시")
    genesis = ledgers.sequencer(city).state.genesis
    assert genesis is not None
    signer = OfficialSigner(ledgers.keys, city, dict(genesis.approvals))
    policy = msgspec.structs.replace(
        gimpo.programs(365)["general"], sale=default_sale(when_budget_out=when_out)
    )
    wallets = {f"w-{n:07d}": nacl.signing.SigningKey.generate() for n in range(4)}
    commands = [
        signer.sign(c.DefineProgram(id=new_id(), city=city, program="general", policy=policy)),
        signer.sign(c.Mint(id=new_id(), city=city, program="general", amount=budget, won_ref="t")),
    ]
    for wallet, key in wallets.items():
        opened = c.OpenWallet(
            id=new_id(), city=city, wallet=wallet, keys=[public_key_hex(key)], custodial=False
        )
        commands.append(sign_command(opened, [key]))
    bad = [r for r in ledgers.execute_many(city, commands) if not r.ok]
    assert not bad, bad[0].code
    return SaleCity(ledgers, city, wallets)

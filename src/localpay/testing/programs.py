"""A small city for policy-money tests and the batch benchmark: the demo's youth and
rewards programs with budgets, wallets, and two officials (maker and checker) whose
keys the server holds."""

from __future__ import annotations

from collections.abc import Callable

import argon2
import nacl.signing

from localpay.adapters.secrets import Sealer
from localpay.adapters.sql.approvals import SqlProposalRepository
from localpay.adapters.sql.programs import SqlProgramTables
from localpay.adapters.sql.runner import SqlStore
from localpay.bootstrap import open_identity
from localpay.domain import commands as c
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.services.approvals.service import Proposals
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.cities.officials import OfficialSigner, create_city, official_name
from localpay.services.identity.service import Identity, Principal
from localpay.services.programs.batches import Batches
from localpay.services.programs.evidence import EligibilityData
from localpay.services.programs.ports import ProgramRepository
from localpay.sim import gimpo

FAST = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "policy-town-2026"  # noqa: S105 (a test log-in)
PROGRAMS = ("youth", "rewards")


def wallet_id(n: int) -> str:
    return f"w-{n:07d}"


def set_up_city(ledgers: Ledgers, city: str, wallets: int, budget: int) -> None:
    """Genesis, the programs with `budget` each, and `wallets` open wallets."""
    create_city(ledgers, city, f"policy town {city}")
    genesis = ledgers.sequencer(city).state.genesis
    assert genesis is not None
    signer = OfficialSigner(ledgers.keys, city, dict(genesis.approvals))
    policies = gimpo.programs(365)
    admin: list[c.Command] = []
    for program in PROGRAMS:
        admin.append(
            c.DefineProgram(id=new_id(), city=city, program=program, policy=policies[program])
        )
        admin.append(
            c.Mint(id=new_id(), city=city, program=program, amount=budget, won_ref=f"t-{program}")
        )
    _run(ledgers, city, [signer.sign(command) for command in admin])
    opens = []
    for n in range(wallets):
        key = nacl.signing.SigningKey.generate()
        opens.append(
            sign_command(
                c.OpenWallet(
                    id=new_id(),
                    city=city,
                    wallet=wallet_id(n),
                    keys=[public_key_hex(key)],
                    custodial=False,
                ),
                [key],
            )
        )
    for start in range(0, len(opens), 5000):
        _run(ledgers, city, opens[start : start + 5000])


def _run(ledgers: Ledgers, city: str, items: list[bytes]) -> None:
    bad = [r for r in ledgers.execute_many(city, items, timeout=300) if not r.ok]
    if bad:
        raise RuntimeError(f"set-up failed: {bad[0].code} {bad[0].message}")


def officials(identity: Identity, city: str) -> tuple[Principal, Principal]:
    maker = identity.create_user(
        city, "city_maker", "maker", PASSWORD, official_key=official_name("maker")
    )
    checker = identity.create_user(
        city, "city_checker", "checker", PASSWORD, official_key=official_name("checker")
    )
    return maker, checker


class Services:
    """The programs services over a store, as bootstrap.Container composes them."""

    def __init__(
        self, store: SqlStore, ledgers: Ledgers, master: Sealer, clock: Callable[[], int]
    ) -> None:
        repo = ProgramRepository(SqlProgramTables(store))
        self.identity = open_identity(store, clock, FAST, master=master)
        self.proposals = Proposals(SqlProposalRepository(store), ledgers, clock)
        self.batches = Batches(repo, ledgers, self.proposals, clock)
        self.eligibility = EligibilityData(repo, master, ledgers, clock)
        self.repo = repo

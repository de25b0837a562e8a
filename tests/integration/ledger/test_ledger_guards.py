"""The ledger's guards through a real sequencer and store (SQLite and PostgreSQL).

Who may put a rejection on the chain (a stranger's junk is answered `unknown_signer`
and never stored, and its id stays free), the sequencer's city check, two officials for
money, and the demo city builders signing with as many officials as the genesis asks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import nacl.signing
import pytest

from localpay.adapters.clock import now_ms
from localpay.adapters.keystore import KeyStore
from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.ledger.ports import Store
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.cities.officials import DEFAULT_APPROVALS, OfficialSigner, create_city
from localpay.services.cities.verify import verify_city
from localpay.testing.builders import policy

CITY = "gimpo"
GENERAL = policy("일반", transferable=True, refundable=True)


@dataclass
class Town:
    store: Store
    ledgers: Ledgers
    signer: OfficialSigner
    alice: nacl.signing.SigningKey

    def run(self, data: bytes) -> Receipt:
        return self.ledgers.execute(CITY, data)

    def official(self, command: c.Command) -> Receipt:
        return self.run(self.signer.sign(command))

    def stored_ids(self) -> set[str]:
        return set(self.store.tx_ids(CITY))


@pytest.fixture
def town(store: Store, keys: KeyStore) -> Iterator[Town]:
    ledgers = Ledgers(store, keys, now_ms)
    try:
        assert create_city(ledgers, CITY, "김포시").ok
        genesis = ledgers.sequencer(CITY).state.genesis
        assert genesis is not None
        signer = OfficialSigner(keys, CITY, dict(genesis.approvals))
        town = Town(store, ledgers, signer, nacl.signing.SigningKey.generate())
        for command in (
            c.DefineProgram(id=new_id(), city=CITY, program="general", policy=GENERAL),
            c.Mint(id=new_id(), city=CITY, program="general", amount=100_000, won_ref="t-1"),
        ):
            assert town.official(command).ok
        opening = c.OpenWallet(
            id=new_id(),
            city=CITY,
            wallet="w-alice",
            keys=[public_key_hex(town.alice)],
            custodial=False,
        )
        assert town.run(sign_command(opening, [town.alice])).ok
        credit = c.Credit(
            id=new_id(), city=CITY, program="general", wallet="w-alice", amount=50_000, origin="p"
        )
        assert town.official(credit).ok
        yield town
    finally:
        ledgers.close()
    report = verify_city(store, CITY)
    assert report.ok, report.problems


def test_a_new_city_needs_two_officials_for_every_official_command(town: Town) -> None:
    genesis = town.ledgers.sequencer(CITY).state.genesis
    assert genesis is not None
    assert dict(genesis.approvals) == DEFAULT_APPROVALS
    assert set(DEFAULT_APPROVALS) == c.OFFICIAL_COMMANDS
    assert set(DEFAULT_APPROVALS.values()) == {2}
    maker = town.signer.keys[0]
    mint = c.Mint(id=new_id(), city=CITY, program="general", amount=1, won_ref="t-2")
    assert town.run(sign_command(mint, [maker])).code == Code.APPROVALS_MISSING
    twice = c.Mint(id=new_id(), city=CITY, program="general", amount=1, won_ref="t-3")
    assert town.run(sign_command(twice, [maker, maker])).code == Code.APPROVALS_MISSING


def test_a_strangers_junk_is_answered_but_never_stored_and_its_id_stays_free(
    town: Town,
) -> None:
    stranger = nacl.signing.SigningKey.generate()
    before = town.stored_ids()
    junk = c.Pay(id=new_id(), city=CITY, wallet="w-alice", merchant="m-none", amount=1, evidence="")
    receipt = town.run(sign_command(junk, [stranger]))
    assert (receipt.code, receipt.seq, receipt.result) == (Code.UNKNOWN_SIGNER, None, None)
    assert town.stored_ids() == before
    # The id was not spent: the wallet's own signed command under it is applied.
    gift = c.Transfer(id=junk.id, city=CITY, wallet="w-alice", to="w-alice", amount=1, evidence="")
    answer = town.run(sign_command(gift, [town.alice]))
    assert (answer.code, answer.duplicate) == (Code.SAME_ACCOUNT, False)
    assert answer.seq is not None
    assert town.stored_ids() == before | {junk.id}


def test_a_rejection_by_the_wallets_own_key_is_recorded(town: Town) -> None:
    pay = c.Pay(id=new_id(), city=CITY, wallet="w-alice", merchant="m-none", amount=1, evidence="")
    receipt = town.run(sign_command(pay, [town.alice]))
    assert receipt.code == Code.ACCOUNT_NOT_FOUND
    assert receipt.seq is not None and pay.id in town.stored_ids()


def test_a_command_signed_for_another_city_is_wrong_city_and_changes_nothing(
    town: Town,
) -> None:
    bob = nacl.signing.SigningKey.generate()
    opening = c.OpenWallet(
        id=new_id(), city=CITY, wallet="w-bob", keys=[public_key_hex(bob)], custodial=False
    )
    assert town.run(sign_command(opening, [bob])).ok
    before = town.stored_ids()
    # Alice's own signature, over a gift meant for the chain of another city.
    elsewhere = c.Transfer(
        id=new_id(), city="seoul", wallet="w-alice", to="w-bob", amount=10_000, evidence=""
    )
    receipt = town.run(sign_command(elsewhere, [town.alice]))
    assert (receipt.code, receipt.seq) == (Code.WRONG_CITY, None)
    assert town.stored_ids() == before
    state = town.ledgers.sequencer(CITY).state
    assert (state.wallets["w-alice"].balance(), state.wallets["w-bob"].balance()) == (50_000, 0)

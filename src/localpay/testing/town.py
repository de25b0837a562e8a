"""A city on a real store with its real sequencer and a clock the test moves, for the
scheduled jobs' tests (services/jobs): the jobs run as in `localpay serve`, at the times a
test names. People hold their own keys; the officials and the operator are the key store's."""

from __future__ import annotations

import datetime as dt

import msgspec
import nacl.signing

from localpay.adapters.keystore import KeyStore
from localpay.adapters.sql.notices import SqlJobRuns, SqlNotices
from localpay.adapters.sql.runner import SqlStore
from localpay.domain import commands as c
from localpay.domain.calendar import KST
from localpay.ledger.blocks import BlockHeader
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.ledger.state import Payout, Program, Wallet
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.cities.officials import OfficialSigner, create_city
from localpay.services.jobs.notices import LogChannel
from localpay.services.jobs.ports import Channel
from localpay.services.jobs.scheduler import Scheduler
from localpay.services.jobs.service import Jobs
from localpay.testing.builders import policy

CITY = "gimpo"


def kst(year: int, month: int, day: int, hour: int = 0, minute: int = 0, ms: int = 0) -> int:
    """Epoch ms of a Korean wall-clock time."""
    moment = dt.datetime(year, month, day, hour, minute, tzinfo=KST)
    return int(moment.timestamp() * 1000) + ms


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class Town:
    """One city, its officials and operator (the key store), people with their own keys."""

    def __init__(self, store: SqlStore, keys: KeyStore, now: int) -> None:
        self.store = store
        self.keys = keys
        self.clock = Clock(now)
        self.ledgers = Ledgers(store, keys, self.clock, max_clock_skew_ms=None)
        assert create_city(self.ledgers, CITY, "김포시").ok
        genesis = self.ledgers.sequencer(CITY).state.genesis
        assert genesis is not None
        self.signer = OfficialSigner(keys, CITY, dict(genesis.approvals))
        self.people: dict[str, nacl.signing.SigningKey] = {}
        #: The store's URL, where a test runs the CLI on it.
        self.url = ""

    # -- the jobs, as serve wires them -------------------------------------------------

    def jobs(self, channel: Channel | None = None) -> Jobs:
        return Jobs(self.ledgers, SqlNotices(self.store), channel or LogChannel())

    def scheduler(self, channel: Channel | None = None) -> Scheduler:
        return Scheduler(self.jobs(channel), SqlJobRuns(self.store), lambda: [CITY], self.clock)

    # -- commands ------------------------------------------------------------------------

    def official(self, command: c.Command) -> Receipt:
        receipt = self.ledgers.execute(CITY, self.signer.sign(command))
        assert receipt.ok, receipt
        return receipt

    def by(self, person: str, command: c.Command) -> Receipt:
        return self.ledgers.execute(CITY, sign_command(command, [self.people[person]]))

    def program(self, name: str, budget: int, **rules: object) -> None:
        self.official(
            c.DefineProgram(id=new_id(), city=CITY, program=name, policy=policy(name, **rules))
        )
        self.official(
            c.Mint(id=new_id(), city=CITY, program=name, amount=budget, won_ref="trust-1")
        )

    def wallet(self, name: str) -> str:
        key = self.people[name] = nacl.signing.SigningKey.generate()
        opening = c.OpenWallet(
            id=new_id(), city=CITY, wallet=name, keys=[public_key_hex(key)], custodial=False
        )
        assert self.by(name, opening).ok
        return name

    def merchant(self, name: str) -> str:
        key = self.people[name] = nacl.signing.SigningKey.generate()
        self.official(
            c.RegisterMerchant(
                id=new_id(),
                city=CITY,
                merchant=name,
                keys=[public_key_hex(key)],
                category="bakery",
                area="gurae",
                annual_revenue=10**8,
                registration_hash="ab" * 32,
            )
        )
        self.official(c.ApproveMerchant(id=new_id(), city=CITY, merchant=name))
        return name

    def credit(self, program: str, wallet: str, amount: int) -> None:
        self.official(
            c.Credit(
                id=new_id(), city=CITY, program=program, wallet=wallet, amount=amount, origin="t"
            )
        )

    def order(self, wallet: str, program: str, amount: int) -> str:
        command = c.OrderPurchase(
            id=new_id(), city=CITY, wallet=wallet, program=program, amount=amount
        )
        assert self.by(wallet, command).ok
        return command.id

    def buy(self, wallet: str, program: str, amount: int) -> str:
        order = self.order(wallet, program, amount)
        self.official(
            c.ConfirmPurchase(
                id=new_id(),
                city=CITY,
                wallet=wallet,
                order=order,
                amount=amount,
                deposit_ref=f"va-{order[:8]}",
            )
        )
        return order

    def pay(self, wallet: str, merchant: str, amount: int) -> Receipt:
        command = c.Pay(
            id=new_id(), city=CITY, wallet=wallet, merchant=merchant, amount=amount, evidence=""
        )
        return self.by(wallet, command)

    # -- reading the committed state -----------------------------------------------------

    def _row(self, key: str, kind: type[msgspec.Struct]) -> msgspec.Struct:
        raw = self.store.state_value(CITY, key)
        assert raw is not None, key
        return msgspec.json.decode(raw, type=kind)

    def wallet_state(self, wallet: str) -> Wallet:
        found = self._row(f"w:{wallet}", Wallet)
        assert isinstance(found, Wallet)
        return found

    def program_state(self, program: str) -> Program:
        found = self._row(f"p:{program}", Program)
        assert isinstance(found, Program)
        return found

    def payouts(self) -> list[Payout]:
        decoder = msgspec.json.Decoder(Payout)
        return [decoder.decode(v) for k, v in self.store.state(CITY) if k.startswith("q:")]

    def log_size(self) -> int:
        head = self.store.head(CITY)
        assert head is not None
        return msgspec.json.decode(head.header_bytes, type=BlockHeader).log_size

    def close(self) -> None:
        self.ledgers.close()

"""A city's ledger state machine driven command by command, with no store: `City.run`
checks after each step that supply equals minted - burned (the invariants), that a
rejected command changed nothing, and that an accepted one reported every entity it
changed (the sequencer persists only those). Shared by the ledger's unit tests."""

from __future__ import annotations

import datetime as dt
import itertools

import msgspec
import nacl.signing

from localpay.domain import commands as c
from localpay.domain.calendar import KST
from localpay.domain.codes import Code
from localpay.domain.policy import Policy
from localpay.ledger import machine
from localpay.ledger.results import Result
from localpay.ledger.signatures import public_key_hex
from localpay.ledger.state import CityState
from localpay.testing import builders

CITY = "gimpo"
FIVE_YEARS = 5 * 365


def kst_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> int:
    moment = dt.datetime(year, month, day, hour, minute, sec, tzinfo=KST)
    return int(moment.timestamp() * 1000)


T0 = kst_ms(2026, 5, 29, 10)  # a Friday morning in Gimpo


def signing_key(n: int) -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey(bytes([n]) * 32)


OPERATOR, MAKER, CHECKER, OUTSIDER = (signing_key(n) for n in (1, 2, 3, 4))


def policy(**overrides: object) -> Policy:
    """The shared builder, with the default program name these tests use."""
    name = str(overrides.pop("name", "program"))
    return builders.policy(name, **overrides)


#: Every approval rule at its smallest: one official, except minting (never below two).
LENIENT = {kind: 1 for kind in c.OFFICIAL_COMMANDS} | {"mint": 2}


def genesis(
    officials: tuple[nacl.signing.SigningKey, ...] = (MAKER, CHECKER),
    approvals: dict[str, int] | None = None,
    days: int = FIVE_YEARS,
) -> c.CreateCity:
    return c.CreateCity(
        id="1" * 32,
        city=CITY,
        name="김포시",
        currency="KRW",
        operator_key=public_key_hex(OPERATOR),
        officials=[
            c.Official(key=public_key_hex(k), role=f"o{n}") for n, k in enumerate(officials)
        ],
        approvals={} if approvals is None else approvals,
        default_valid_days=days,
    )


def on_new_city(command: c.Command, *signers: nacl.signing.SigningKey) -> tuple[str, CityState]:
    """Apply one command to a city with no genesis yet."""
    state = CityState(CITY)
    result, _ = machine.apply(state, command, frozenset(map(public_key_hex, signers)), T0)
    return result.code, state


def snapshot(state: CityState) -> dict[str, bytes]:
    return {key: state.encode_entity(key) for key in state.entity_keys()}


class City:
    """A city after genesis; by default with the ledger's own rules (no `approvals`):
    two distinct officials for every official command."""

    def __init__(self, approvals: dict[str, int] | None = None) -> None:
        self.state = CityState(CITY)
        self.now = T0
        self._ids = itertools.count(1)
        self._keys = itertools.count(10)
        self.keys: dict[str, nacl.signing.SigningKey] = {}
        first = msgspec.structs.replace(genesis((MAKER, CHECKER), approvals), id=self.new_id())
        assert self.run(first, OPERATOR).code == Code.OK

    def new_id(self) -> str:
        return f"{next(self._ids):032x}"

    # -- applying ------------------------------------------------------------------------

    def run(self, command: c.Command, *signers: nacl.signing.SigningKey) -> Result:
        before = snapshot(self.state)
        result, touched = machine.apply(
            self.state, command, frozenset(public_key_hex(k) for k in signers), self.now
        )
        after = snapshot(self.state)
        if result.ok:
            changed = {k for k in after if before.get(k) != after[k]}
            assert changed <= set(touched), f"changed but not reported: {changed - set(touched)}"
        else:
            assert after == before, f"{result.code} changed the state"
            assert touched == []
        assert self.state.check_invariants() == []
        return result

    def code(self, command: c.Command, *signers: nacl.signing.SigningKey) -> str:
        return self.run(command, *signers).code

    def official(self, command: c.Command) -> str:
        return self.code(command, MAKER, CHECKER)

    # -- setting up ------------------------------------------------------------------------

    def define(self, program: str, rules: Policy) -> c.DefineProgram:
        return c.DefineProgram(id=self.new_id(), city=CITY, program=program, policy=rules)

    def approve(self, merchant: str) -> c.ApproveMerchant:
        return c.ApproveMerchant(id=self.new_id(), city=CITY, merchant=merchant)

    def suspend(self, merchant: str) -> c.SuspendMerchant:
        return c.SuspendMerchant(id=self.new_id(), city=CITY, merchant=merchant, reason="audit-7")

    def opening(self, wallet: str, *keys: nacl.signing.SigningKey) -> c.OpenWallet:
        hexes = [public_key_hex(k) for k in keys]
        return c.OpenWallet(id=self.new_id(), city=CITY, wallet=wallet, keys=hexes, custodial=False)

    def appoint(self, key: nacl.signing.SigningKey, active: bool = True) -> c.AppointOfficial:
        hexkey = public_key_hex(key)
        return c.AppointOfficial(id=self.new_id(), city=CITY, key=hexkey, role="aud", active=active)

    def program(self, program: str, budget: int = 10_000_000, **rules: object) -> None:
        assert self.official(self.define(program, policy(**rules))) == Code.OK
        if budget:
            assert self.official(self.mint(program, budget)) == Code.OK

    def mint(self, program: str, amount: int) -> c.Mint:
        return c.Mint(
            id=self.new_id(), city=CITY, program=program, amount=amount, won_ref="trust-1"
        )

    def wallet(self, wallet: str, custodial: bool = False) -> str:
        key = self.keys[wallet] = signing_key(next(self._keys))
        opening = c.OpenWallet(
            id=self.new_id(),
            city=CITY,
            wallet=wallet,
            keys=[public_key_hex(key)],
            custodial=custodial,
        )
        assert self.code(opening, key) == Code.OK
        return wallet

    def merchant(
        self, merchant: str, category: str = "bakery", area: str = "gurae", revenue: int = 10**8
    ) -> str:
        key = self.keys[merchant] = signing_key(next(self._keys))
        registration = self.register(merchant, key, category, area, revenue)
        assert self.official(registration) == Code.OK
        assert self.official(self.approve(merchant)) == Code.OK
        return merchant

    def register(
        self,
        merchant: str,
        key: nacl.signing.SigningKey,
        category: str = "bakery",
        area: str = "gurae",
        revenue: int = 10**8,
    ) -> c.RegisterMerchant:
        return c.RegisterMerchant(
            id=self.new_id(),
            city=CITY,
            merchant=merchant,
            keys=[public_key_hex(key)],
            category=category,
            area=area,
            annual_revenue=revenue,
            registration_hash="ab" * 32,
        )

    def credit_cmd(
        self, wallet: str, program: str, amount: int, lot: str | None = None
    ) -> c.Credit:
        return c.Credit(
            id=lot or self.new_id(),
            city=CITY,
            program=program,
            wallet=wallet,
            amount=amount,
            origin="purchase",
        )

    def credit(self, wallet: str, program: str, amount: int, lot: str | None = None) -> str:
        command = self.credit_cmd(wallet, program, amount, lot)
        assert self.official(command) == Code.OK
        return command.id

    # -- citizens and merchants acting -------------------------------------------------------

    def pay_cmd(self, wallet: str, merchant: str, amount: int, evidence: str = "") -> c.Pay:
        return c.Pay(
            id=self.new_id(),
            city=CITY,
            wallet=wallet,
            merchant=merchant,
            amount=amount,
            evidence=evidence,
        )

    def pay(self, wallet: str, merchant: str, amount: int, evidence: str = "") -> Result:
        return self.run(self.pay_cmd(wallet, merchant, amount, evidence), self.keys[wallet])

    def paid(self, wallet: str, merchant: str, amount: int) -> str:
        command = self.pay_cmd(wallet, merchant, amount)
        assert self.code(command, self.keys[wallet]) == Code.OK
        return command.id

    def refund_cmd(self, merchant: str, payment: str, amount: int) -> c.Refund:
        return c.Refund(
            id=self.new_id(), city=CITY, merchant=merchant, payment=payment, amount=amount
        )

    def refund(self, merchant: str, payment: str, amount: int) -> Result:
        return self.run(self.refund_cmd(merchant, payment, amount), self.keys[merchant])

    def transfer_cmd(self, wallet: str, to: str, amount: int, evidence: str = "") -> c.Transfer:
        return c.Transfer(
            id=self.new_id(), city=CITY, wallet=wallet, to=to, amount=amount, evidence=evidence
        )

    def transfer(self, wallet: str, to: str, amount: int, evidence: str = "") -> Result:
        return self.run(self.transfer_cmd(wallet, to, amount, evidence), self.keys[wallet])

    def expire(self, wallet: str, *signers: nacl.signing.SigningKey) -> Result:
        return self.run(
            c.Expire(id=self.new_id(), city=CITY, wallet=wallet), *(signers or (OPERATOR,))
        )

    def redeem_cmd(self, merchant: str, amount: int) -> c.Redeem:
        return c.Redeem(
            id=self.new_id(), city=CITY, merchant=merchant, amount=amount, payout_ref="bank-1"
        )

    def redeem(self, merchant: str, amount: int) -> Result:
        return self.run(self.redeem_cmd(merchant, amount), self.keys[merchant])

    # -- settlement ------------------------------------------------------------------------------

    def payout_account(self, merchant: str, account: str = "ac" * 32) -> str:
        """Register `account` (a digest) as the merchant's payout account."""
        command = c.SetPayoutAccount(
            id=self.new_id(), city=CITY, merchant=merchant, account=account
        )
        assert self.code(command, self.keys[merchant]) == Code.OK
        return account

    def payout_cmd(self, merchant: str, amount: int, account: str = "ac" * 32) -> c.Payout:
        return c.Payout(
            id=self.new_id(), city=CITY, merchant=merchant, amount=amount, account=account
        )

    def settle_cmd(self, payout: str, owner: str, bank_ref: str = "MB-1") -> c.SettlePayout:
        owed = self.state.payouts[payout]
        return c.SettlePayout(
            id=self.new_id(), city=CITY, payout=payout, bank_ref=bank_ref,
            merchant=owed.merchant if owner == owed.merchant else "",
            wallet=owner if owner != owed.merchant else "",
        )  # fmt: skip

    def return_cmd(
        self, payout: str, owner: str, reason: str = "AC04", bank_ref: str = ""
    ) -> c.ReturnPayout:
        settle = self.settle_cmd(payout, owner)
        return c.ReturnPayout(
            id=settle.id, city=CITY, payout=payout, reason=reason,
            merchant=settle.merchant, wallet=settle.wallet, bank_ref=bank_ref,
        )  # fmt: skip

    # -- cards, holds and one-time codes ---------------------------------------------------------

    def card(self, wallet: str, card: str) -> nacl.signing.SigningKey:
        """Bind a card (its id on the chain: `card`, 64 hex) to the wallet; the card's key."""
        key = self.keys[f"card:{card}"] = signing_key(next(self._keys))
        binding = c.BindCard(
            id=self.new_id(),
            city=CITY,
            wallet=wallet,
            card=card,
            key=public_key_hex(key),
            active=True,
        )
        assert self.code(binding, self.keys[wallet]) == Code.OK
        return key

    def card_hold_cmd(
        self, wallet: str, card: str, merchant: str, amount: int, rrn: str, capture: bool = False
    ) -> c.Hold:
        return c.Hold(
            id=self.new_id(),
            city=CITY,
            wallet=wallet,
            merchant=merchant,
            amount=amount,
            card=card,
            terminal="T0000001",
            stan=rrn[-6:].rjust(6, "0"),
            rrn=rrn,
            capture=capture,
        )

    def checkout_hold_cmd(
        self, wallet: str, merchant: str, amount: int, intent: str, order: str = "order-1"
    ) -> c.Hold:
        return c.Hold(
            id=self.new_id(),
            city=CITY,
            wallet=wallet,
            merchant=merchant,
            amount=amount,
            intent=intent,
            order=order,
        )

    def capture_cmd(self, hold: c.Hold, amount: int) -> c.Capture:
        return c.Capture(
            id=self.new_id(),
            city=CITY,
            hold=hold.id,
            wallet=hold.wallet,
            merchant=hold.merchant,
            amount=amount,
        )

    def release_cmd(self, hold: c.Hold) -> c.Release:
        return c.Release(
            id=self.new_id(), city=CITY, hold=hold.id, wallet=hold.wallet, merchant=hold.merchant
        )

    # -- reading ---------------------------------------------------------------------------------

    def lots(self, wallet: str) -> list[tuple[str, int]]:
        return [(lot.id, lot.amount) for lot in self.state.wallets[wallet].lots]

    def balance(self, wallet: str) -> int:
        return self.state.wallets[wallet].balance()

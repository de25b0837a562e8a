"""What a payment or a gift would do, decided by the ledger's own rules, before signing.

The preview runs `ledger.spending.plan_payment` / `plan_transfer` over the state the
store holds now (the sequencer's last block), after the same checks, in the same order,
as the state machine's `_pay` / `_transfer` make before planning. So the page's "usable
here" and the ledger's answer to the signed command agree; only a block in between (a
payment from another device, a credit, midnight passing a cap's day) can change it, and
then the ledger's answer is the one shown.

Pure functions over the ledger's structs (`preview_payment`, `preview_transfer`) and a
loader that reads those structs from the store (`load_payment`, `load_transfer`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import msgspec

from localpay.domain.codes import Code
from localpay.domain.money import valid_amount
from localpay.domain.policy import MerchantFacts, evaluate
from localpay.ledger import spending
from localpay.ledger.ports import Store
from localpay.ledger.state import MERCHANT_ACTIVE, Merchant, Program, Wallet

T = TypeVar("T")


class ProgramLine(msgspec.Struct, frozen=True):
    """One program (bucket) of the wallet: what the command takes from it and what is
    left. `usable` is the program's own verdict for this shop ("ok" or why not), for the
    person's understanding; whether the whole amount can be paid is `Preview.code`."""

    program: str
    name: str
    before: int
    take: int
    after: int
    usable: str = Code.OK.value


class Preview(msgspec.Struct, frozen=True):
    """`code` "ok": `lines` say which programs pay how much; otherwise the refusal the
    ledger would give, and `lines` show the wallet as it stays (nothing taken)."""

    code: str
    amount: int
    lines: list[ProgramLine]

    @property
    def ok(self) -> bool:
        return self.code == Code.OK

    @property
    def total_after(self) -> int:
        return sum(line.after for line in self.lines)


def program_name(program: Program | None, fallback: str) -> str:
    """The name people know a program by: its newest version's."""
    return program.versions[-1].name if program is not None and program.versions else fallback


def _holdings(wallet: Wallet) -> dict[str, int]:
    held: dict[str, int] = {}
    for lot in wallet.lots:
        held[lot.program] = held.get(lot.program, 0) + lot.amount
    return held


def _lines(
    programs: dict[str, Program],
    wallet: Wallet,
    plan: spending.Plan,
    usable: dict[str, str] | None = None,
) -> list[ProgramLine]:
    taken: dict[str, int] = {}
    for index, amount in plan:
        program = wallet.lots[index].program
        taken[program] = taken.get(program, 0) + amount
    return [
        ProgramLine(
            program=program,
            name=program_name(programs.get(program), program),
            before=held,
            take=taken.get(program, 0),
            after=held - taken.get(program, 0),
            usable=(usable or {}).get(program, Code.OK.value),
        )
        for program, held in sorted(_holdings(wallet).items())
    ]


def _usable_here(
    programs: dict[str, Program], wallet: Wallet, merchant: Merchant, now_ms: int
) -> dict[str, str]:
    """Per program: "ok" if some of its unexpired money may be spent at this shop, else
    the first reason (expired, or the policy's own denial)."""
    facts = MerchantFacts(merchant.category, merchant.area, merchant.annual_revenue)
    verdicts: dict[str, str] = {}
    for lot in wallet.lots:
        if verdicts.get(lot.program) == Code.OK:
            continue
        if lot.expires_ms <= now_ms:
            verdict = Code.PROGRAM_EXPIRED
        else:
            verdict = evaluate(spending.policy_of(programs, lot), facts)
        if lot.program not in verdicts or verdict is Code.OK:
            verdicts[lot.program] = verdict.value
    return verdicts


def preview_payment(
    programs: dict[str, Program], wallet: Wallet, merchant: Merchant, amount: int, now_ms: int
) -> Preview:
    """The ledger's `_pay` after the signature: amount, card evidence, shop, then plan."""
    usable = _usable_here(programs, wallet, merchant, now_ms)
    code = _payment_precheck(wallet, merchant, amount)
    if code is None:
        plan = spending.plan_payment(programs, wallet, merchant, amount, now_ms)
        if not isinstance(plan, Code):
            return Preview(Code.OK.value, amount, _lines(programs, wallet, plan, usable))
        code = plan
    return Preview(code.value, amount, _lines(programs, wallet, [], usable))


def _payment_precheck(wallet: Wallet, merchant: Merchant, amount: int) -> Code | None:
    if not valid_amount(amount):
        return Code.INVALID_AMOUNT
    # A card wallet pays with the card's authorization, never from a browser.
    if wallet.custodial:
        return Code.EVIDENCE_MISSING
    if merchant.status != MERCHANT_ACTIVE:
        return Code.MERCHANT_NOT_ACTIVE
    return None


def preview_transfer(
    programs: dict[str, Program], source: Wallet, target: Wallet, amount: int, now_ms: int
) -> Preview:
    """The ledger's `_transfer` after the signature: amount, same wallet, card, plan, lots."""
    code = _transfer_precheck(source, target, amount)
    if code is None:
        plan = spending.plan_transfer(programs, source, target, amount, now_ms)
        if isinstance(plan, Code):
            code = plan
        elif not spending.room_for_lots(target, spending.new_gift_lots(source, target, plan)):
            code = Code.LOT_LIMIT_EXCEEDED
        else:
            return Preview(Code.OK.value, amount, _lines(programs, source, plan))
    return Preview(code.value, amount, _lines(programs, source, []))


def _transfer_precheck(source: Wallet, target: Wallet, amount: int) -> Code | None:
    if not valid_amount(amount):
        return Code.INVALID_AMOUNT
    if source.id == target.id:
        return Code.SAME_ACCOUNT
    if source.custodial:
        return Code.EVIDENCE_MISSING
    return None


# -- reading the structs from the store ------------------------------------------------------


def _load(store: Store, city: str, key: str, kind: type[T]) -> T | None:
    raw = store.state_value(city, key)
    return None if raw is None else msgspec.json.decode(raw, type=kind)


def load_programs(store: Store, city: str, ids: Iterable[str]) -> dict[str, Program]:
    """The programs named (those a wallet's lots belong to)."""
    found = {}
    for ident in sorted(set(ids)):
        program = _load(store, city, f"p:{ident}", Program)
        if program is not None:
            found[ident] = program
    return found


def _programs_of(store: Store, city: str, *wallets: Wallet) -> dict[str, Program]:
    return load_programs(store, city, (lot.program for w in wallets for lot in w.lots))


def load_wallet(store: Store, city: str, wallet: str) -> Wallet | None:
    return _load(store, city, f"w:{wallet}", Wallet)


def load_payment(
    store: Store, city: str, wallet_id: str, merchant_id: str, amount: int, now_ms: int
) -> Preview:
    """Preview a payment over the stored state; an unknown wallet or shop is the ledger's
    `account_not_found`."""
    wallet = load_wallet(store, city, wallet_id)
    merchant = _load(store, city, f"m:{merchant_id}", Merchant)
    if wallet is None or merchant is None:
        return Preview(Code.ACCOUNT_NOT_FOUND.value, amount, [])
    programs = _programs_of(store, city, wallet)
    return preview_payment(programs, wallet, merchant, amount, now_ms)


def load_transfer(
    store: Store, city: str, wallet_id: str, to: str, amount: int, now_ms: int
) -> Preview:
    source, target = load_wallet(store, city, wallet_id), load_wallet(store, city, to)
    if source is None or target is None:
        return Preview(Code.ACCOUNT_NOT_FOUND.value, amount, [])
    programs = _programs_of(store, city, source, target)
    return preview_transfer(programs, source, target, amount, now_ms)

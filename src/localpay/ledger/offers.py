"""Customer-presented one-time codes (the Korean QR standard's 변동형 code).

The wallet shows a code; the shop's scanner reads it and the shop takes an amount. On
the chain that is two commands: `present_code`, signed by the wallet, offers to pay up
to a cap to whichever merchant claims the code within CODE_MS_MAX; `claim_code`,
signed by the merchant, pays the amount by the payment rules, once. Only the code's
hash is on the chain: the digits are on the citizen's screen and the shop's scanner.
No money moves at presentation, so an unclaimed code needs nothing given back.
"""

from __future__ import annotations

from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.domain.limits import CODE_MS_MAX
from localpay.domain.money import valid_amount
from localpay.ledger import spending
from localpay.ledger.results import Result, rejected
from localpay.ledger.state import MERCHANT_ACTIVE, CityState, Offer

Outcome = tuple[Result, list[str]]
_NOTHING: list[str] = []


def present_code(
    state: CityState, cmd: c.PresentCode, signers: frozenset[str], now: int
) -> Outcome:
    wallet = state.wallets.get(cmd.wallet)
    if wallet is None:
        return rejected(Code.ACCOUNT_NOT_FOUND), _NOTHING
    if not signers.intersection(wallet.keys):
        return rejected(Code.SIGNER_NOT_AUTHORIZED), _NOTHING
    if not valid_amount(cmd.cap):
        return rejected(Code.INVALID_AMOUNT), _NOTHING
    if wallet.custodial:
        return rejected(Code.EVIDENCE_MISSING), _NOTHING  # a card wallet pays by card
    if cmd.code in state.offers:
        return rejected(Code.CODE_USED), _NOTHING
    state.add_offer(cmd.code, Offer(wallet.id, cmd.cap, now, now + CODE_MS_MAX))
    return Result(code=Code.OK.value, balance=wallet.balance()), [f"k:{cmd.code}"]


def claim_code(state: CityState, cmd: c.ClaimCode, signers: frozenset[str], now: int) -> Outcome:
    merchant = state.merchants.get(cmd.merchant)
    if merchant is None:
        return rejected(Code.ACCOUNT_NOT_FOUND), _NOTHING
    if not signers.intersection(merchant.keys):
        return rejected(Code.SIGNER_NOT_AUTHORIZED), _NOTHING
    offer = state.offers.get(cmd.code)
    if offer is None or offer.wallet != cmd.wallet:
        return rejected(Code.CODE_NOT_FOUND), _NOTHING
    if not valid_amount(cmd.amount):
        return rejected(Code.INVALID_AMOUNT), _NOTHING
    if offer.claimed:
        return rejected(Code.CODE_USED), _NOTHING
    if now >= offer.expires_ms:
        return rejected(Code.CODE_EXPIRED), _NOTHING
    if cmd.amount > offer.cap:
        return rejected(Code.CODE_CAP_EXCEEDED), _NOTHING
    if merchant.status != MERCHANT_ACTIVE:
        return rejected(Code.MERCHANT_NOT_ACTIVE), _NOTHING
    wallet = state.wallets[offer.wallet]
    paid = spending.pay_merchant(state, wallet, merchant, cmd.amount, cmd.id, now)
    if isinstance(paid, Code):
        return rejected(paid), _NOTHING
    offer.claimed = cmd.id
    return paid, [f"w:{wallet.id}", f"m:{merchant.id}", f"x:{cmd.id}", f"k:{cmd.code}"]

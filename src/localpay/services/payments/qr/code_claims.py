"""Capturing a customer-presented code: a shop's counter or POS claims an amount up to the
code's cap, exactly once; and the code's state as the wallet follows it.

The ClaimCode is signed by the server with the merchant's custodial key (as refunds are,
services/counter/service.py). Its id is derived from the city, the merchant, the code's
hash and the request's idempotency key: a double submit or a retry after a lost answer is
the same command, which the ledger answers with its first receipt. The key is part of it
so that a claim the ledger refused (over the cap, say) can be tried again with another
amount by a new request, instead of meeting its own refusal for ever. That the code pays
once is the ledger's rule (`code_used`), whoever asks and however often.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import msgspec

from localpay.domain import commands as c
from localpay.domain.errors import NotFound, Refused
from localpay.ledger.ports import Store
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import sign_command
from localpay.ledger.state import Offer
from localpay.services.approvals.service import merchant_key
from localpay.services.cities.command_ids import derived_id
from localpay.services.cities.inspect import require_city
from localpay.services.cities.ledgers import Ledgers, MissingKey
from localpay.services.identity import access
from localpay.services.identity.service import Principal
from localpay.services.payments.qr.codes import code_hash

#: A code's states as the wallet shows them.
OPEN: Final = "open"
USED: Final = "used"
EXPIRED: Final = "expired"


class CodeNotFound(NotFound):
    """No code with these digits was presented in this city (or it is long gone): nothing
    is sent to the ledger, since there is no wallet to name."""

    code = "code_not_found"


class MerchantKeyMissing(MissingKey):
    """This server holds no custodial key for the merchant: it cannot sign the claim (an
    operator's problem, retrying later may help; the counter's refunds have the same)."""


class NotStaff(Refused):
    """The person or key is not this merchant's: they may not capture for it."""

    code = "forbidden"


@dataclass(frozen=True)
class CodeStatus:
    """A presented code now: whose, up to what, and what became of it."""

    wallet: str
    cap: int
    state: str  # OPEN, USED or EXPIRED
    left_ms: int  # until it expires (0 once used or expired)
    payment: str = ""  # the ClaimCode's id once used (its payment record's id too)
    merchant: str = ""
    amount: int = 0


def offer(store: Store, city: str, code: str) -> Offer:
    """The ledger's record of a presented code (by its hash), or CodeNotFound."""
    require_city(store, city)
    raw = store.state_value(city, f"k:{code}")
    if raw is None:
        raise CodeNotFound("no such payment code: ask the customer for a new one")
    return msgspec.json.decode(raw, type=Offer)


def status(store: Store, city: str, code: str, now_ms: int) -> CodeStatus:
    """The code's state by its hash: used (with the claim's merchant and amount, read
    from its transaction, which outlives the payment record), open or expired by now."""
    found = offer(store, city, code)
    if found.claimed:
        merchant, amount = _claim_of(store, city, found.claimed)
        return CodeStatus(found.wallet, found.cap, USED, 0, found.claimed, merchant, amount)
    if now_ms >= found.expires_ms:
        return CodeStatus(found.wallet, found.cap, EXPIRED, 0)
    return CodeStatus(found.wallet, found.cap, OPEN, found.expires_ms - now_ms)


def _claim_of(store: Store, city: str, tx_id: str) -> tuple[str, int]:
    tx = store.find_tx(city, tx_id)
    if tx is None:
        return "", 0
    _, command = c.decode_envelope(tx.envelope)
    if not isinstance(command, c.ClaimCode):
        return "", 0
    return command.merchant, command.amount


def claim_id(city: str, merchant: str, code: str, idempotency_key: str) -> str:
    """The ClaimCode's id: the same request (merchant, code, key) is the same command."""
    return derived_id(city, merchant, f"claim_code/{code}", idempotency_key)


def claim(
    ledgers: Ledgers,
    staff: Principal,
    merchant: str,
    digits: str,
    amount: int,
    idempotency_key: str,
) -> Receipt:
    """Capture `amount` of the code with these digits for `merchant`: the ledger's receipt
    (a refusal, e.g. `code_used`, is a receipt with its code). CodeMalformed for digits
    that are no code, CodeNotFound for a code nobody presented."""
    city = staff.city
    if not access.refunds_for(staff, city, merchant):
        raise NotStaff(f"{staff.username!r} may not take payments for merchant {merchant!r}")
    code = code_hash(city, digits)
    found = offer(ledgers.store, city, code)
    command = c.ClaimCode(
        id=claim_id(city, merchant, code, idempotency_key),
        city=city,
        code=code,
        wallet=found.wallet,
        merchant=merchant,
        amount=amount,
    )
    try:
        signing = merchant_key(ledgers, city, merchant)
    except MissingKey as exc:
        raise MerchantKeyMissing(str(exc)) from None
    return ledgers.execute(city, sign_command(command, [signing]))

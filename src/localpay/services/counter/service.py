"""Staff commands: a refund, signed by the server with the merchant's
custodial key, the same for the API and the counter pages. (Payouts are
services/settlement: won leave the trust account for the shop's bank account.)

The command id is derived from who asks, what for and their idempotency key
(services/cities/command_ids.py): a retry of the same request is the same command, and
the ledger answers it with the first receipt instead of applying it twice.
"""

from __future__ import annotations

from localpay.domain import commands as c
from localpay.domain.errors import Refused
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import sign_command
from localpay.services.approvals.service import merchant_key
from localpay.services.cities.command_ids import derived_id
from localpay.services.cities.ledgers import Ledgers, MissingKey
from localpay.services.identity import access
from localpay.services.identity.service import Principal


class MerchantKeyMissing(MissingKey):
    """This server holds no custodial key for the merchant: it cannot sign for its staff.
    Apart from other missing keys (an operator's) so callers can alert about this one."""


class NotStaff(Refused):
    """The person is not allowed this command for this merchant."""

    code = "forbidden"


def command_id(staff: Principal, purpose: str, key: str) -> str:
    """The same request (same principal, purpose and idempotency key) builds the same id."""
    return derived_id(staff.city, staff.id, purpose, key)


def refund(
    ledgers: Ledgers, staff: Principal, merchant: str, payment: str, amount: int, key: str
) -> Receipt:
    """Refund `amount` of `payment` to the wallet that paid it; the ledger's receipt (a
    refusal is a receipt with its code, not an exception)."""
    if not access.refunds_for(staff, staff.city, merchant):
        raise NotStaff(f"{staff.username!r} may not refund for merchant {merchant!r}")
    tx_id = command_id(staff, f"refund/{merchant}", key)
    command = c.Refund(id=tx_id, city=staff.city, merchant=merchant, payment=payment, amount=amount)
    return _signed(ledgers, staff.city, merchant, command)


def _signed(ledgers: Ledgers, city: str, merchant: str, command: c.Command) -> Receipt:
    try:
        signing = merchant_key(ledgers, city, merchant)
    except MissingKey as exc:
        raise MerchantKeyMissing(str(exc)) from None
    return ledgers.execute(city, sign_command(command, [signing]))

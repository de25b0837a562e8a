"""Why a payment or a gift cannot be made, in plain words for the citizen.

One message per code the ledger (domain/codes.py) or the API (problem+json `code`) can
answer a `pay` or a `transfer` with, shared by the pay and gift pages, their previews and
the answer to a signed command (GET /c/{city}/wallet/why?code=...). Message ids are
English; the catalogs carry the Korean. A code not listed gets the general words.
"""

from __future__ import annotations

from typing import Final

from localpay.domain.codes import Code
from localpay.entrypoints.web.i18n import N_

#: code -> plain words (a message id of the catalogs).
PLAIN: Final[dict[str, str]] = {
    # The ledger's answers to a payment or a gift, in the ledger's precedence order.
    Code.ACCOUNT_NOT_FOUND: N_("There is no such shop or wallet."),
    Code.SIGNER_NOT_AUTHORIZED: N_("This device's key is not this wallet's key."),
    Code.UNKNOWN_SIGNER: N_("This device's key is not this wallet's key."),
    Code.INVALID_AMOUNT: N_("Enter a whole number of won, more than 0."),
    Code.SAME_ACCOUNT: N_("You cannot send a gift to your own wallet."),
    Code.EVIDENCE_MISSING: N_("A card wallet pays with its card at the shop, not on this page."),
    Code.MERCHANT_NOT_ACTIVE: N_("This shop cannot take payments now (not approved or suspended)."),
    Code.PROGRAM_EXPIRED: N_("This money has expired and can no longer be used."),
    Code.CATEGORY_DENIED: N_("This money cannot be used at this kind of shop."),
    Code.AREA_DENIED: N_("This money can only be used in other neighbourhoods."),
    Code.REVENUE_CAP_EXCEEDED: N_(
        "This shop's yearly sales are above the limit for this money (large businesses)."
    ),
    Code.NOT_TRANSFERABLE: N_("This money cannot be given to another wallet."),
    Code.PER_PAYMENT_LIMIT_EXCEEDED: N_("This is more than this money allows in one payment."),
    Code.DAILY_LIMIT_EXCEEDED: N_("This is more than this money allows in one day."),
    Code.MONTHLY_LIMIT_EXCEEDED: N_("This is more than this money allows in one month."),
    Code.HOLDING_LIMIT_EXCEEDED: N_("The other wallet would hold more of this money than allowed."),
    Code.LOT_LIMIT_EXCEEDED: N_("The other wallet cannot take more separate gifts now."),
    Code.INSUFFICIENT_FUNDS: N_("There is not enough money usable here."),
    # Refused before the chain: nothing was recorded.
    Code.MALFORMED: N_("The payment could not be read. Reload the page and try again."),
    Code.NOT_CANONICAL: N_("The payment could not be read. Reload the page and try again."),
    Code.SIGNATURE_INVALID: N_("The signature did not check. Reload the page and try again."),
    Code.WRONG_CITY: N_("This payment is for another city."),
    Code.CITY_NOT_FOUND: N_("There is no such city."),
    Code.ID_REUSED: N_("This payment was already made. See your history."),
    # The API's own answers.
    "unavailable": N_("No answer yet. Try again: you will not pay twice."),
    "overloaded": N_("No answer yet. Try again: you will not pay twice."),
    "unauthenticated": N_("Sign in to your wallet again."),
    "idempotency_key_reused": N_("This payment was already made. See your history."),
}
GENERAL: Final = N_("This cannot be done now.")


def plain(code: str) -> str:
    """The message id that explains `code` (a general one for codes we do not know)."""
    return PLAIN.get(code, GENERAL)

"""The citizen's refund account (환불받을 계좌): the bank account the won of a cancelled
purchase or a balance refund are paid to, and what became of each payout (보내는 중,
입금 완료, 반환됨 with the bank's reason). The server never signs: refund_account.js signs
the request with the device's wallet key and PUTs it to the API
(routers/wallet_payout_account.py); these pages only read. The purchases page asks for
the account through the notice below (loaded by htmx) while a payout waits for one."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from localpay.entrypoints.web.context import language
from localpay.entrypoints.web.deps import container
from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.i18n import N_
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.wallet import citizen, wallet_context
from localpay.entrypoints.web.routes.wallet_pay import wallet_of
from localpay.services.registry.accounts import BANKS
from localpay.services.settlement.ports import StoredAccount
from localpay.services.settlement.service import SettlementService
from localpay.services.settlement.views import account_shown
from localpay.services.settlement.wallet_accounts import (
    PAID,
    RETURNED,
    SENDING,
    WAITING,
    WalletAccounts,
)

router = APIRouter()

#: A payout's state in people's words.
STATE_WORDS: Final = {
    WAITING: N_("Waiting for your account"),
    SENDING: N_("Sending"),
    PAID: N_("Paid into your account"),
    RETURNED: N_("Returned by the bank"),
}
#: Why owed (the ledger's reason), as on the purchases page.
REASON_WORDS: Final = {
    "cancelled": N_("Cancelled purchase"),
    "balance_refund": N_("Rest of a purchase"),
    "expired": N_("Expired purchased money"),
    "deposit_returned": N_("Transfer that came too late"),
}
#: The bank's return reasons (ISO 20022 external codes) a citizen can act on.
RETURN_WORDS: Final = {
    "AC01": N_("The account number is wrong."),
    "AC04": N_("The account is closed."),
    "AC06": N_("The account is blocked."),
    "BE01": N_("The name does not match the account holder."),
    "AG01": N_("The account does not take this transfer."),
}
OTHER_RETURN: Final = N_("The bank could not pay it into that account.")


def _accounts(request: Request) -> WalletAccounts:
    found: SettlementService | None = getattr(container(request), "settlement", None)
    if found is None:
        raise PageError(503, N_("Refunds to a bank account are not open on this server now."))
    return WalletAccounts(found)


def _shown(stored: StoredAccount | None, lang: str) -> str:
    return "" if stored is None else account_shown(stored.party, lang)


def _context(request: Request, city: str) -> dict[str, Any]:
    found = citizen(request, city)
    accounts = _accounts(request)
    wallet = wallet_of(found)
    context = wallet_context(request, city)
    stored = accounts.account(city, wallet)
    payouts = accounts.payouts(city, wallet)
    return {
        **context,
        "wallet": wallet,
        "account": _shown(stored, "ko" if language(request) == "ko" else "en"),
        "payouts": payouts,
        "waiting": any(p.state in (WAITING, RETURNED) for p in payouts),
        "banks": sorted(BANKS.items(), key=lambda b: b[1][0]),
        "state_words": STATE_WORDS,
        "reason_words": REASON_WORDS,
        "return_words": RETURN_WORDS,
        "other_return": OTHER_RETURN,
    }


@router.get("/c/{city}/wallet/refund-account")
def refund_account(request: Request, city: str) -> Response:
    return page(request, "wallet/refund_account.html", _context(request, city))


@router.get("/c/{city}/wallet/refund-account/notice")
def notice(request: Request, city: str) -> Response:
    """The purchases page's part: ask for the account while a payout waits for one (or
    was returned), else say where the money goes."""
    return page(request, "wallet/refund_account.html", _context(request, city), block="notice")

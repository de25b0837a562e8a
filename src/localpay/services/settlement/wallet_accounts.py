"""A citizen's refund account (환불받을 계좌): where the won of a cancelled purchase or a
balance refund go. The server never holds a phone wallet's key, so the request is signed
in the browser with one of the wallet's keys, like its commands; the account itself never
goes on the chain (a wallet's payouts name no digest there), it is kept sealed by
SettlementService.register_account and the daily batch then pays what is owed to it.

What the signature covers (UTF-8, fields joined by newlines, exactly as sent):

    localpay/payout-account/v1\\n{city}\\n{wallet}\\n{bank}\\n{number}\\n{holder}\\n{at_ms}

Why `at_ms` and its window: a signed request read off a shared screen or a proxy's log
must not change the account later. It is refused outside ±5 minutes of the server's
clock, and one older than the account already on file is refused too, so a request
replayed inside the window cannot put back an account the citizen has since replaced
(the same request again is answered as before: a retry after a lost answer).
Card-only (custodial) wallets have no key of the citizen's: the card counter's official
registers theirs (register_for_card)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import nacl.bindings
import nacl.exceptions
import nacl.signing

from localpay.domain.errors import Conflict, NotFound, Refused
from localpay.ledger.state import PAYOUT_PAID, PAYOUT_PENDING, Payout, Wallet
from localpay.services.registry.accounts import BadAccount, BankAccount, checked
from localpay.services.settlement.ports import (
    LINE_PAID,
    LINE_RETURNED,
    LINE_SENT,
    Party,
    StoredAccount,
)
from localpay.services.settlement.service import SettlementService

PREFIX: Final = "localpay/payout-account/v1"
#: How far a request's `at_ms` may be from the server's clock (either way).
SKEW_MS: Final = 5 * 60 * 1000
#: How many of a wallet's payouts its page lists (newest first).
SHOWN_MAX: Final = 50

#: A payout's state as its citizen reads it.
WAITING: Final = "waiting"  # owed, no account on file yet: nothing can be sent
SENDING: Final = "sending"  # 보내는 중: in a file to the bank, or in the next one
PAID: Final = "paid"  # 입금 완료: the bank's statement shows it paid
RETURNED: Final = "returned"  # 반환됨: the bank sent it back (reason), owed still


class WalletAccountRefused(Refused):
    """A refund-account request refused; `code` says why (the API's problem code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class StaleRequest(WalletAccountRefused):
    """Signed too long ago (or ahead): sign it again now."""

    def __init__(self, message: str) -> None:
        super().__init__("request_stale", message)


class ReplayedRequest(Conflict):
    """Older than the account on file: an old request sent again."""

    code = "request_replayed"


class NoSuchWallet(NotFound):
    code = "account_not_found"


@dataclass(frozen=True)
class AccountRequest:
    """The body of PUT …/wallets/{wallet}/payout-account, with its path's city and wallet."""

    city: str
    wallet: str
    bank: str
    number: str
    holder: str
    at_ms: int
    key: str  # the signing key, 64 hex
    sig: str  # Ed25519, 128 hex


@dataclass(frozen=True)
class PayoutStatus:
    """One of the wallet's payouts as its page shows it."""

    id: str
    amount: int
    reason: str  # why it is owed: cancelled, balance_refund, expired, …
    state: str  # WAITING, SENDING, PAID, RETURNED
    returned: str  # the bank's reason code of the last return (AC04, …), else ""
    at_ms: int


def message(city: str, wallet: str, bank: str, number: str, holder: str, at_ms: int) -> bytes:
    """The bytes a refund-account request signs."""
    return "\n".join((PREFIX, city, wallet, bank, number, holder, str(at_ms))).encode()


def sign(key: nacl.signing.SigningKey, request: AccountRequest) -> str:
    """The request's signature, hex (a Python client's, the tests')."""
    return key.sign(_message(request)).signature.hex()


def _message(r: AccountRequest) -> bytes:
    return message(r.city, r.wallet, r.bank, r.number, r.holder, r.at_ms)


class WalletAccounts:
    def __init__(self, settlement: SettlementService) -> None:
        self.settlement = settlement

    def register(self, request: AccountRequest, now_ms: int) -> StoredAccount:
        """Check the signed request and keep the account (sealed). Checks in a fixed
        order, so the same request always gets the same answer: the wallet, the key,
        the signature, the time, the account, then replay."""
        wallet = self._wallet(request.city, request.wallet)
        if wallet.custodial:
            raise WalletAccountRefused(
                "wallet_custodial", "a card-only wallet's account is registered at the card counter"
            )
        self._verify(wallet, request)
        if abs(now_ms - request.at_ms) > SKEW_MS:
            raise StaleRequest("the request was signed more than 5 minutes from now: sign again")
        account = _checked(request.bank, request.number, request.holder)
        return self._keep(request.city, request.wallet, account, request.at_ms)

    def register_for_card(
        self, city: str, wallet: str, bank: str, number: str, holder: str, now_ms: int
    ) -> StoredAccount:
        """A card-only wallet's account, given at the card counter to an official (who
        is the authority here: the wallet's only key is the server's own)."""
        found = self._wallet(city, wallet)
        if not found.custodial:
            raise WalletAccountRefused(
                "wallet_not_custodial", "this wallet's owner registers the account on the phone"
            )
        return self._keep(city, wallet, _checked(bank, number, holder), now_ms)

    def account(self, city: str, wallet: str) -> StoredAccount | None:
        return self.settlement.account_of(city, wallet)

    def payouts(self, city: str, wallet: str) -> list[PayoutStatus]:
        """The wallet's payouts, newest first, with what the bank did with each."""
        state = self.settlement.ledgers.sequencer(city).state
        # The city's payouts are scanned: a wallet's are few, and the state keeps no
        # index by wallet (the ledger's own structure, not this feature's).
        owed = [q for q in state.payouts.values() if q.wallet == wallet and not q.merchant]
        owed.sort(key=lambda q: (q.at_ms, q.id), reverse=True)
        owed = owed[:SHOWN_MAX]
        lines = self._lines(city, wallet)
        has_account = self.account(city, wallet) is not None
        return [_status(q, lines.get(q.id, ""), has_account) for q in owed]

    # -- helpers ----------------------------------------------------------------------------

    def _wallet(self, city: str, wallet: str) -> Wallet:
        found = self.settlement.ledgers.sequencer(city).state.wallets.get(wallet)
        if found is None:
            raise NoSuchWallet(f"no wallet {wallet!r} in {city!r}")
        return found

    def _verify(self, wallet: Wallet, request: AccountRequest) -> None:
        if request.key not in wallet.keys:
            raise WalletAccountRefused("unknown_signer", "that key is not one of this wallet's")
        try:
            nacl.bindings.crypto_sign_open(
                bytes.fromhex(request.sig) + _message(request), bytes.fromhex(request.key)
            )
        except (ValueError, TypeError, nacl.exceptions.CryptoError):
            raise WalletAccountRefused(
                "signature_invalid", "the signature does not prove the wallet's key"
            ) from None

    def _keep(self, city: str, wallet: str, account: BankAccount, at_ms: int) -> StoredAccount:
        party = Party(account.holder, account.bank, account.number.replace("-", ""))
        known = self.account(city, wallet)
        if known is not None and at_ms <= known.at_ms:
            if known.party == party:
                return known  # the same request again: answered as the first time
            raise ReplayedRequest("a newer account is on file: sign the request again")
        self.settlement.register_account(city, wallet, party, at_ms)
        stored = self.account(city, wallet)
        assert stored is not None
        return stored

    def _lines(self, city: str, wallet: str) -> dict[str, str]:
        """payout -> the status of its newest line in a file to the bank."""
        found: dict[str, str] = {}
        for batch in reversed(self.settlement.batches(city, wallet, SHOWN_MAX)):
            for line in batch.lines:
                if line.owner == wallet:
                    found[line.payout] = line.status  # later batches overwrite
        return found


def _checked(bank: str, number: str, holder: str) -> BankAccount:
    try:
        return checked(bank, number, holder)
    except BadAccount as exc:
        raise WalletAccountRefused("invalid_account", str(exc)) from None


def _status(owed: Payout, line: str, has_account: bool) -> PayoutStatus:
    if owed.status == PAYOUT_PAID or line == LINE_PAID:
        state = PAID
    elif owed.status == PAYOUT_PENDING and owed.returned and line in ("", LINE_RETURNED):
        state = RETURNED  # sent back, not in a file again yet
    elif line == LINE_SENT or has_account:
        state = SENDING
    else:
        state = WAITING
    return PayoutStatus(owed.id, owed.amount, owed.reason, state, owed.returned, owed.at_ms)

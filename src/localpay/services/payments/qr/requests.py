"""Dynamic merchant QR (EMVCo point of initiation "12"): a payment request for one amount.

The counter screen or the shop's POS asks for a request; it gets a one-time reference
(EMVCo 62/05, REFERENCE_LENGTH characters) valid REQUEST_VALID_MS, and the payload to show
as a QR: the shop's own merchant QR with initiation "12", the amount (54) and the reference.
The wallet scans it and signs an ordinary Pay of that merchant and amount whose evidence is
`qr:<reference>`, so what the citizen signs names the request.

Paying goes through `pay`: it checks the request exists, is open and not expired, and that
the signed Pay is the request's; then it records the Pay's command id against the reference
(one compare-and-set in the store) *before* the ledger sees it, so two different payments
of one reference can never both reach the ledger. The same signed Pay sent again passes
(the ledger answers a repeated id with its first receipt); a Pay the ledger refused gives
the reference back, so the citizen can top up or pick other money and pay it after all.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Literal

from localpay.domain.codes import Code
from localpay.domain.commands import Pay
from localpay.domain.errors import Conflict, NotFound, Refused
from localpay.domain.limits import AMOUNT_MAX
from localpay.ledger.ports import Store
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import envelopes_verified
from localpay.services.payments.qr.request_ports import QrRequestRepository, StoredRequest

#: How long a dynamic QR can be paid, from its making: long enough to scan and confirm.
REQUEST_VALID_MS: Final = 3 * 60 * 1000
#: 16 base32 characters = 80 random bits: not guessable, and within 62/05's 25.
REFERENCE_LENGTH: Final = 16
#: The evidence a Pay of a request carries: this prefix and the reference.
EVIDENCE_PREFIX: Final = "qr:"

Status = Literal["open", "paid", "expired"]
#: Sends a signed command to the city's ledger; its receipt once durable.
Submit = Callable[[str, bytes], Awaitable[Receipt]]
#: Whether the ledger applied a command id: True applied, False refused (recorded), None
#: not on the chain (yet).
Lookup = Callable[[str, str], bool | None]
#: The payload of a request: (city, merchant, amount, reference) -> the EMVCo text.
Encode = Callable[[str, str, int, str], str]


class RequestNotFound(NotFound):
    code = "qr_request_not_found"


class RequestExpired(Refused):
    code = "qr_request_expired"


class RequestPaid(Conflict):
    code = "qr_request_paid"


class PaymentMismatch(Refused):
    code = "qr_payment_mismatch"


class BadAmount(Refused):
    code = "invalid_amount"


class SignatureInvalid(Refused):
    """The ledger's own refusal, given before the claim: a Pay with a broken signature must
    not hold the reference even for the moment the ledger takes to say no."""

    code = Code.SIGNATURE_INVALID.value


@dataclass(frozen=True)
class QrRequest:
    """A request as a counter or POS sees it."""

    city: str
    reference: str
    merchant: str
    amount: int
    created_ms: int
    expires_ms: int
    status: Status
    payment: str  # the Pay's command id once paid, else ""
    payload: str


def new_reference() -> str:
    return base64.b32encode(secrets.token_bytes(10)).decode("ascii")[:REFERENCE_LENGTH]


def evidence_of(reference: str) -> str:
    return EVIDENCE_PREFIX + reference


def ledger_lookup(store: Store) -> Lookup:
    """Whether the chain applied a command, from the store's own record of it."""

    def lookup(city: str, command: str) -> bool | None:
        tx = store.find_tx(city, command)
        return None if tx is None else tx.decoded_result().code == Code.OK

    return lookup


def status_of(stored: StoredRequest, now_ms: int) -> Status:
    if stored.paid_ms:
        return "paid"
    # A claimed Pay still on its way may land after the expiry: it was claimed in time.
    if now_ms >= stored.expires_ms and not stored.command:
        return "expired"
    return "open"


class QrRequests:
    def __init__(
        self,
        repo: QrRequestRepository,
        lookup: Lookup,
        encode: Encode,
        clock: Callable[[], int],
    ) -> None:
        self.repo, self.lookup, self.encode, self.clock = repo, lookup, encode, clock

    # -- the counter's side -------------------------------------------------------------

    def create(self, city: str, merchant: str, amount: int, idempotency_key: str) -> QrRequest:
        """A new request; the same key again gives the same request (a double tap)."""
        if not 0 < amount <= AMOUNT_MAX:
            raise BadAmount(f"the amount must be whole won from 1 to {AMOUNT_MAX}")
        now = self.clock()
        row = (city, new_reference(), merchant, amount, idempotency_key, now,
               now + REQUEST_VALID_MS, "", 0, 0)  # fmt: skip
        stored = StoredRequest.of(self.repo.create(row))
        if stored.amount != amount:
            raise Conflict("this idempotency key was used for a request of another amount")
        return self._shown(stored)

    def get(self, city: str, reference: str, merchant: str | None = None) -> QrRequest:
        """The request (its status brought up to date with the ledger); `merchant`: only if
        it is that merchant's (another's is not found, never confirmed)."""
        stored = self._stored(city, reference)
        if merchant is not None and stored.merchant != merchant:
            raise RequestNotFound("there is no such payment request")
        return self._shown(self._settled(stored))

    # -- the wallet's side --------------------------------------------------------------

    async def pay(
        self, city: str, reference: str, pay: Pay, envelope: bytes, submit: Submit
    ) -> Receipt:
        """Pay the request with the wallet's signed `pay` (`envelope`, its bytes)."""
        stored = self._settled(self._stored(city, reference))
        self._check_matches(stored, pay)
        if envelopes_verified([envelope]) != b"\x01":
            raise SignatureInvalid("a signature of the payment does not verify")
        if stored.command != pay.id:
            self._claim(stored, pay.id)
        receipt = await submit(city, envelope)
        if receipt.ok:
            self.repo.mark_paid(city, reference, pay.id, self.clock())
        else:  # refused, on the chain or before it: the reference is payable again
            self.repo.release(city, reference, pay.id)
        return receipt

    # -- inside -------------------------------------------------------------------------

    def _stored(self, city: str, reference: str) -> StoredRequest:
        found = self.repo.get(city, reference)
        if found is None:
            raise RequestNotFound("there is no such payment request")
        return StoredRequest.of(found)

    def _settled(self, stored: StoredRequest) -> StoredRequest:
        """The request after asking the ledger about a claimed Pay whose answer was not
        recorded here (the server stopped between the claim and the answer)."""
        if not stored.command or stored.paid_ms:
            return stored
        applied = self.lookup(stored.city, stored.command)
        if applied is True:
            self.repo.mark_paid(stored.city, stored.reference, stored.command, self.clock())
        elif applied is False:
            self.repo.release(stored.city, stored.reference, stored.command)
        else:
            return stored
        return self._stored(stored.city, stored.reference)

    @staticmethod
    def _check_matches(stored: StoredRequest, pay: Pay) -> None:
        if pay.evidence != evidence_of(stored.reference):
            raise PaymentMismatch(
                f"the payment must carry evidence {evidence_of(stored.reference)!r}"
            )
        if pay.merchant != stored.merchant or pay.amount != stored.amount:
            raise PaymentMismatch(
                f"the payment must be {stored.amount} won to {stored.merchant}, as requested"
            )

    def _claim(self, stored: StoredRequest, command: str) -> None:
        if stored.paid_ms:
            raise RequestPaid("this QR code was already paid")
        if stored.command:
            raise RequestPaid("this QR code is being paid by another payment")
        if self.clock() >= stored.expires_ms:
            raise RequestExpired("this QR code expired: ask the shop for a new one")
        if self.repo.claim(stored.city, stored.reference, command, "", self.clock()):
            return
        # Lost the race; to the same Pay sent twice at once (a double tap) that is no loss.
        if self._stored(stored.city, stored.reference).command != command:
            raise RequestPaid("this QR code was already paid")

    def _shown(self, stored: StoredRequest) -> QrRequest:
        status = status_of(stored, self.clock())
        return QrRequest(
            city=stored.city,
            reference=stored.reference,
            merchant=stored.merchant,
            amount=stored.amount,
            created_ms=stored.created_ms,
            expires_ms=stored.expires_ms,
            status=status,
            payment=stored.command if status == "paid" else "",
            payload=self.encode(stored.city, stored.merchant, stored.amount, stored.reference),
        )

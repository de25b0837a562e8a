"""Write operations: signed ledger commands, one endpoint per kind of command.

The body is the signed envelope exactly as the client made it (see docs/encoding.md):
the server never re-encodes what a citizen signed. The endpoint checks that the
command is of its kind and for its city, hands it to the city's sequencer and
answers once its block is durable: 201 with the receipt, or a problem whose
`receipt` member shows where the (recorded) rejection sits on the chain. A receipt of a
command on the chain carries its `proof`: the offline-checkable receipt of
GET .../transactions/{id}/receipt, proved against its own block's checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any, Final

import msgspec
import orjson
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.requests import HTTPConnection

from localpay.domain.codes import Code
from localpay.domain.commands import DecodeError, Pay, command_type, decode_envelope
from localpay.domain.errors import NotFound
from localpay.domain.limits import COMMAND_BYTES_MAX
from localpay.entrypoints.api.deps import container_of, principal_of, transparency_of
from localpay.entrypoints.api.problems import ApiProblem, ledger_problem, responses
from localpay.entrypoints.api.schemas import ENVELOPE_SCHEMA, RECEIPT_SCHEMA
from localpay.ledger.ports import LeaseHeld, StoreError
from localpay.ledger.receipt import LookupFailed, Overloaded, Receipt, SequencerStopped
from localpay.ledger.tickets import Ticket
from localpay.services.cities.inspect import own_balance
from localpay.services.cities.ledgers import MissingKey
from localpay.services.identity import access
from localpay.services.transparency.service import LogMismatch, Transparency

router = APIRouter()
log = structlog.get_logger("localpay.entrypoints.api")

#: The evidence of a dynamic QR's payment (services/payments/qr/requests.evidence_of).
QR_EVIDENCE: Final = "qr:"

#: Longest a request waits for its block to become durable before answering 503.
ANSWER_TIMEOUT_S: Final = 30.0

#: Each signed-command route: its path template -> the kinds of command it takes. The lean
#: path (entrypoints/api/fastpath.py) serves these; the FastAPI routes describe them.
SIGNED_ROUTES: Final[dict[str, frozenset[str]]] = {}

_ERRORS: Final = (
    "malformed",
    "not_canonical",
    "wrong_city",
    "signature_invalid",
    "wrong_command_type",
    "body_too_large",
    "unavailable",
)


async def await_ticket(ticket: Ticket[Receipt], timeout: float = ANSWER_TIMEOUT_S) -> Receipt:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Receipt] = loop.create_future()

    def landed(done: Ticket[Receipt]) -> None:
        error = done.exception()
        if error is None:
            loop.call_soon_threadsafe(_settle, future, done.result(), None)
        else:
            loop.call_soon_threadsafe(_settle, future, None, error)

    ticket.add_done_callback(landed)
    # A stuck ledger must not hold connections for ever; the client may safely retry the
    # same signed command (its id makes the retry idempotent). A timer on our own future,
    # not asyncio.wait_for: that wraps it in a task and waiter per request on the hot path.
    timer = loop.call_later(timeout, _settle, future, None, TimeoutError())
    try:
        return await future
    finally:
        timer.cancel()


def _settle(
    future: asyncio.Future[Receipt], value: Receipt | None, error: BaseException | None
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert value is not None
        future.set_result(value)


def receipt_response(
    transparency: Transparency, city: str, receipt: Receipt, viewer: str | None = None
) -> Response:
    """The answer to a command. It shows `balance` (after the command) only when `viewer`
    is the account that sent it; by default, nobody's: a balance is its owner's alone."""
    body = msgspec.to_builtins(receipt)
    body.pop("balances", None)
    if viewer is None:  # the room left under a limit is the sender's own, as a balance is
        body.pop("room", None)
    balance = own_balance(receipt.balances, viewer)
    if balance is not None:
        body["balance"] = balance
    if receipt.seq is None:  # rejected before the chain: nothing recorded
        return ledger_problem(receipt.code, receipt.message)
    body["proof"] = _proof(transparency, city, receipt)
    if receipt.ok:
        return Response(orjson.dumps(body), status_code=201, media_type="application/json")
    return ledger_problem(receipt.code, receipt.message, receipt=body)


def _proof(transparency: Transparency, city: str, receipt: Receipt) -> dict[str, Any] | None:
    """The receipt's proof; None (logged) if the store cannot give one: the command is
    durable either way, and its receipt can be fetched again once the cause is fixed."""
    assert receipt.height is not None
    try:
        return transparency.fresh_receipt(city, receipt.id, receipt.height)
    except (NotFound, LogMismatch, StoreError) as exc:
        log.error("receipt_proof_failed", city=city, tx=receipt.id, error=str(exc))
        return None


async def submit(
    request: HTTPConnection, data: bytes, city: str, kinds: frozenset[str]
) -> Response:
    """Check the signed command `data` is of `kinds` and for `city`, sequence it and answer
    with its receipt once its block is durable. Bad input is a problem and changes nothing."""
    if len(data) > COMMAND_BYTES_MAX:
        raise ApiProblem("body_too_large", f"a command is at most {COMMAND_BYTES_MAX} bytes")
    try:
        _, command = decode_envelope(data)
    except DecodeError as exc:
        return ledger_problem(exc.code, str(exc))
    if command_type(command) not in kinds:
        raise ApiProblem(
            "wrong_command_type",
            f"expected {' or '.join(sorted(kinds))}, got {command_type(command)}",
        )
    if command.city != city:
        return ledger_problem(Code.WRONG_CITY, f"the command is for {command.city!r}")
    if isinstance(command, Pay) and command.evidence.startswith(QR_EVIDENCE):
        # Paid here, a dynamic QR's request would stay open at the shop's counter.
        raise ApiProblem(
            "qr_request_route",
            "a dynamic QR is paid through its request: POST .../qr/requests/{reference}/pay",
        )
    container = container_of(request)
    if not container.has_city(city):
        return ledger_problem(Code.CITY_NOT_FOUND, f"no city {city!r} here")
    ledgers = container.ledgers
    with ledger_errors():
        receipt = await await_ticket(ledgers.submit(city, data), ledgers.answer_timeout_s)
    viewer = _signed_viewer(request, city, receipt)
    return receipt_response(transparency_of(request), city, receipt, viewer)


def _signed_viewer(request: HTTPConnection, city: str, receipt: Receipt) -> str | None:
    """Whose balance the answer to a signed command may show. The first answer goes to
    whoever held the signed command before it was on the chain: its sender's device. A
    duplicate may come from anyone who read the envelope off the chain (a party's
    receipt carries it): then only the sender's own signed-in session sees it."""
    if not receipt.duplicate:
        return receipt.balances[0][0] if receipt.balances else None
    return access.own_account(principal_of(request), city)


@contextlib.contextmanager
def ledger_errors() -> Iterator[None]:
    """The ledger gave no answer (busy, stopped, too slow, store trouble): a retryable
    problem, never a 500. The command may or may not have been applied; a retry with the
    same command id (or Idempotency-Key) gets the one answer it has."""
    try:
        yield
    except Overloaded as exc:
        raise ApiProblem("overloaded", str(exc), {"Retry-After": "1"}) from None
    except (SequencerStopped, LookupFailed, StoreError, LeaseHeld, MissingKey, TimeoutError):
        # The cause is for the operator's logs and /readyz, not for the public.
        raise ApiProblem(
            "unavailable",
            "the city's ledger did not answer in time; retry with the same Idempotency-Key",
            {"Retry-After": "5"},
        ) from None


def _operation(path: str, kinds: set[str], summary: str, *codes: str) -> None:
    """A signed-command route: served by the lean path, described (and served, should a
    request reach FastAPI's router) by this FastAPI route. Both call `submit`."""
    taken = frozenset(kinds)
    SIGNED_ROUTES[path] = taken

    async def endpoint(request: Request, city: str) -> Response:
        return await submit(request, await request.body(), city, taken)

    endpoint.__name__ = "post_" + "_".join(sorted(kinds))
    router.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        summary=summary,
        status_code=201,
        response_class=Response,
        tags=["commands"],
        responses={
            201: {
                "description": "applied; the block is durable",
                "content": {"application/json": {"schema": RECEIPT_SCHEMA}},
            },
            **responses(*_ERRORS, *codes),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ENVELOPE_SCHEMA}},
            }
        },
    )


_operation(
    "/v1/cities/{city}/wallets",
    {"open_wallet"},
    "Open a wallet (signed by its key)",
    "signer_not_authorized",
    "account_exists",
    "id_reused",
)
_operation(
    "/v1/cities/{city}/payments",
    {"pay"},
    "Pay a merchant (signed by the wallet)",
    "qr_request_route",
    "account_not_found",
    "signer_not_authorized",
    "invalid_amount",
    "evidence_missing",
    "merchant_not_active",
    "category_denied",
    "insufficient_funds",
    "unknown_signer",
    "id_reused",
    "program_expired",
    "area_denied",
    "revenue_cap_exceeded",
    "per_payment_limit_exceeded",
    "daily_limit_exceeded",
    "monthly_limit_exceeded",
)
_operation(
    "/v1/cities/{city}/refunds",
    {"refund"},
    "Refund a payment (signed by the merchant)",
    "account_not_found",
    "payment_not_found",
    "refund_exceeds_payment",
    "insufficient_funds",
    "unknown_signer",
    "id_reused",
    "signer_not_authorized",
    "invalid_amount",
)
_operation(
    "/v1/cities/{city}/transfers",
    {"transfer"},
    "Gift to another wallet",
    "account_not_found",
    "not_transferable",
    "holding_limit_exceeded",
    "insufficient_funds",
    "unknown_signer",
    "id_reused",
    "signer_not_authorized",
    "invalid_amount",
    "same_account",
    "evidence_missing",
    "lot_limit_exceeded",
)
_operation(
    "/v1/cities/{city}/credits",
    {"credit"},
    "Credit a program to a wallet (officials)",
    "signer_not_authorized",
    "program_not_found",
    "holding_limit_exceeded",
    "unknown_signer",
    "id_reused",
    "approvals_missing",
    "lot_limit_exceeded",
    "account_not_found",
    "invalid_amount",
    "program_expired",
    "insufficient_funds",
)
_operation(
    "/v1/cities/{city}/merchants",
    {"register_merchant"},
    "Register a merchant",
    "signer_not_authorized",
    "account_exists",
    "unknown_signer",
    "id_reused",
    "approvals_missing",
    "invalid_amount",
)
_operation(
    "/v1/cities/{city}/merchant-decisions",
    {"approve_merchant", "suspend_merchant"},
    "Approve or suspend a merchant (officials; suspension needs two)",
    "signer_not_authorized",
    "approvals_missing",
    "merchant_status_unchanged",
    "unknown_signer",
    "id_reused",
    "account_not_found",
)
_operation(
    "/v1/cities/{city}/programs",
    {"define_program"},
    "Define a program or a new version of it (two officials)",
    "signer_not_authorized",
    "approvals_missing",
    "invalid_policy",
    "unknown_signer",
    "id_reused",
)
_operation(
    "/v1/cities/{city}/mints",
    {"mint"},
    "Mint units against won received in trust",
    "signer_not_authorized",
    "program_not_found",
    "invalid_amount",
    "unknown_signer",
    "id_reused",
    "approvals_missing",
)
_operation(
    "/v1/cities/{city}/redemptions",
    {"redeem"},
    "Redeem merchant units into won",
    "signer_not_authorized",
    "insufficient_funds",
    "unknown_signer",
    "id_reused",
    "merchant_not_active",
    "account_not_found",
    "invalid_amount",
)
_operation(
    "/v1/cities/{city}/expiries",
    {"expire"},
    "Return a wallet's expired lots",
    "signer_not_authorized",
    "nothing_to_expire",
    "unknown_signer",
    "id_reused",
    "account_not_found",
)
_operation(
    "/v1/cities/{city}/officials",
    {"appoint_official"},
    "Appoint or revoke an official's key (officials; two by default)",
    "signer_not_authorized",
    "approvals_missing",
    "invalid_policy",
    "unknown_signer",
    "id_reused",
    "account_not_found",
)
_operation(
    "/v1/cities/{city}/witnesses",
    {"set_witnesses"},
    "Set the witnesses who co-sign checkpoints and their quorum (officials)",
    "signer_not_authorized",
    "approvals_missing",
    "invalid_policy",
    "unknown_signer",
    "id_reused",
)
_SPENDING: Final = (
    "account_not_found",
    "signer_not_authorized",
    "invalid_amount",
    "evidence_missing",
    "merchant_not_active",
    "category_denied",
    "area_denied",
    "revenue_cap_exceeded",
    "condition_not_met",
    "program_expired",
    "per_payment_limit_exceeded",
    "daily_limit_exceeded",
    "monthly_limit_exceeded",
    "insufficient_funds",
    "unknown_signer",
    "id_reused",
)
_operation(
    "/v1/cities/{city}/cards/bindings",
    {"bind_card"},
    "Bind a prepaid card's key to a wallet, or unbind it (signed by the wallet)",
    "account_not_found",
    "signer_not_authorized",
    "card_not_bound",
    "card_limit_exceeded",
    "unknown_signer",
    "id_reused",
)
# No generic route for `hold`: a card's holds are made by the card host from the terminal's
# message (services/payments/card), a checkout's by the approval route of its intent
# (routers/checkout.py), which checks the hold is that intent's amount and order first.
_operation(
    "/v1/cities/{city}/captures",
    {"capture"},
    "Capture a hold, in full or in part (the merchant, or the card's key)",
    "account_not_found",
    "signer_not_authorized",
    "invalid_amount",
    "hold_not_found",
    "hold_closed",
    "hold_expired",
    "capture_exceeds_hold",
    "merchant_not_active",
    "unknown_signer",
    "id_reused",
)
_operation(
    "/v1/cities/{city}/releases",
    {"release"},
    "Release a hold, reverse a card payment, or void a hold not seen yet",
    "account_not_found",
    "signer_not_authorized",
    "hold_not_found",
    "hold_closed",
    "hold_not_expired",
    "reversal_window_closed",
    "insufficient_funds",
    "unknown_signer",
    "id_reused",
)
_operation(
    "/v1/cities/{city}/presented-codes",
    {"present_code"},
    "Present a one-time code the shop's scanner reads (signed by the wallet)",
    "account_not_found",
    "signer_not_authorized",
    "invalid_amount",
    "evidence_missing",
    "code_used",
    "unknown_signer",
    "id_reused",
)
_operation(
    "/v1/cities/{city}/presented-codes/claims",
    {"claim_code"},
    "Claim a presented one-time code for an amount up to its cap (signed by the merchant)",
    *_SPENDING,
    "code_not_found",
    "code_used",
    "code_expired",
    "code_cap_exceeded",
)

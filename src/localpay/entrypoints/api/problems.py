"""RFC 9457 problem details: every error the API gives, mapped in this one place.

Each problem has a stable `code` (a ledger result code or an API code) and a `type`
URI `urn:localpay:problem:<code>`. Clients branch on `code`, people read `detail`.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from fastapi.responses import Response

from localpay.domain.codes import REASONS, Code
from localpay.domain.errors import Conflict, LocalpayError, NotFound, Refused, Unavailable

MEDIA_TYPE: Final = "application/problem+json"

#: HTTP status of each ledger result code (OK is not a problem).
LEDGER_STATUS: Final[dict[Code, int]] = {
    Code.MALFORMED: 400,
    Code.NOT_CANONICAL: 400,
    Code.WRONG_CITY: 400,
    Code.CITY_NOT_FOUND: 404,
    Code.SIGNATURE_INVALID: 400,
    Code.UNKNOWN_SIGNER: 403,
    Code.ID_REUSED: 409,
    Code.OPERATOR_KEY_UNAVAILABLE: 409,
    Code.CITY_EXISTS: 409,
    Code.OPERATOR_SIGNATURE_MISSING: 403,
    Code.SIGNER_NOT_AUTHORIZED: 403,
    Code.APPROVALS_MISSING: 403,
    Code.ACCOUNT_NOT_FOUND: 404,
    Code.ACCOUNT_EXISTS: 409,
    Code.PROGRAM_NOT_FOUND: 404,
    Code.PAYMENT_NOT_FOUND: 404,
    Code.REFUND_WINDOW_CLOSED: 422,
    Code.INVALID_AMOUNT: 422,
    Code.INVALID_POLICY: 422,
    Code.OPERATOR_KEY_MISMATCH: 409,
    Code.INVALID_OPERATOR_KEY: 422,
    Code.SAME_ACCOUNT: 422,
    Code.EVIDENCE_MISSING: 422,
    Code.MERCHANT_NOT_ACTIVE: 422,
    Code.MERCHANT_STATUS_UNCHANGED: 409,
    Code.PROGRAM_EXPIRED: 422,
    Code.CATEGORY_DENIED: 422,
    Code.AREA_DENIED: 422,
    Code.REVENUE_CAP_EXCEEDED: 422,
    Code.NOT_TRANSFERABLE: 422,
    Code.PER_PAYMENT_LIMIT_EXCEEDED: 422,
    Code.DAILY_LIMIT_EXCEEDED: 422,
    Code.MONTHLY_LIMIT_EXCEEDED: 422,
    Code.HOLDING_LIMIT_EXCEEDED: 422,
    Code.LOT_LIMIT_EXCEEDED: 422,
    Code.REFUND_EXCEEDS_PAYMENT: 422,
    Code.INSUFFICIENT_FUNDS: 422,
    Code.NOTHING_TO_EXPIRE: 409,
    Code.CONDITION_NOT_MET: 422,
    Code.RESERVED_ORIGIN: 422,
    Code.MERCHANT_BARRED: 409,
    Code.NOT_FOR_SALE: 422,
    Code.PURCHASE_LIMIT_EXCEEDED: 422,
    Code.SALE_BUDGET_EXHAUSTED: 409,
    Code.GRANT_LIMIT_EXCEEDED: 422,
    Code.PURCHASE_NOT_FOUND: 404,
    Code.PURCHASE_CLOSED: 409,
    Code.DEPOSIT_MISMATCH: 422,
    Code.DEPOSIT_REF_USED: 409,
    Code.CANCEL_WINDOW_CLOSED: 409,
    Code.PURCHASE_USED: 409,
    Code.REFUND_THRESHOLD_NOT_MET: 409,
    Code.CASHBACK_NOT_DUE: 409,
    Code.BATCH_EXISTS: 409,
    Code.BATCH_NOT_FOUND: 404,
    Code.ROW_NOT_IN_BATCH: 422,
    Code.ROW_ALREADY_PAID: 409,
    Code.CARD_NOT_BOUND: 422,
    Code.HOLD_INVALID: 422,
    Code.HOLD_VOIDED: 409,
    Code.INTENT_USED: 409,
    Code.HOLD_NOT_FOUND: 404,
    Code.HOLD_CLOSED: 409,
    Code.HOLD_EXPIRED: 409,
    Code.HOLD_NOT_EXPIRED: 409,
    Code.CAPTURE_EXCEEDS_HOLD: 422,
    Code.REVERSAL_WINDOW_CLOSED: 409,
    Code.CODE_USED: 409,
    Code.CODE_NOT_FOUND: 404,
    Code.CODE_EXPIRED: 409,
    Code.CODE_CAP_EXCEEDED: 422,
    Code.CARD_LIMIT_EXCEEDED: 409,
    Code.PAYOUT_ACCOUNT_MISSING: 409,
    Code.PAYOUT_ACCOUNT_MISMATCH: 422,
    Code.PAYOUT_NOT_FOUND: 404,
    Code.PAYOUT_CLOSED: 409,
}

#: API-level problems (not from the ledger): code -> (status, title).
API_PROBLEMS: Final[dict[str, tuple[int, str]]] = {
    "not_found": (404, "no such resource"),
    "validation_failed": (422, "the request does not match the schema"),
    "wrong_command_type": (422, "this endpoint takes another kind of command"),
    "qr_request_route": (422, "a dynamic QR's payment goes through its request's route"),
    "idempotency_key_missing": (400, "POST requests need an Idempotency-Key header"),
    "idempotency_key_reused": (422, "this Idempotency-Key was used with a different request"),
    "idempotency_key_in_flight": (409, "a request with this Idempotency-Key is still running"),
    "idempotency_secret_shown_once": (409, "the original response held a secret shown once"),
    "body_too_large": (413, "the request body is larger than allowed"),
    "unauthenticated": (401, "sign in or present a valid token"),
    "forbidden": (403, "this principal may not do that"),
    "proposal_decided": (409, "the proposal was already submitted or rejected"),
    "proposal_unsigned": (409, "the maker has not signed the proposal yet"),
    "signature_required": (422, "this official signs with their own key: send the signature"),
    "official_signature_invalid": (422, "not this official's signature over the proposal"),
    "rate_limited": (429, "too many requests; retry later"),
    "overloaded": (503, "the ledger is busy; retry later"),
    "unavailable": (503, "the ledger is not running"),
    "conflict": (409, "this contradicts what is already recorded"),
    "refused": (422, "the request is not allowed"),
    "method_not_allowed": (405, "method not allowed"),
    "unsupported_media_type": (415, "send application/json"),
}

SCHEMA: Final = {
    "type": "object",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "instance": {"type": "string"},
    },
    "additionalProperties": True,
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str = "",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body = {"type": f"urn:localpay:problem:{code}", "title": title, "status": status, "code": code}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return Response(orjson.dumps(body), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def api_problem(
    code: str, detail: str = "", headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    status, title = API_PROBLEMS[code]
    return problem(status, code, title, detail, headers, **extra)


def ledger_problem(code: str, detail: str = "", **extra: Any) -> Response:
    ledger_code = Code(code)
    return problem(LEDGER_STATUS[ledger_code], code, REASONS[ledger_code], detail, **extra)


#: The API's one mapping of the error tree (domain/errors.py): kind -> generic code.
ERROR_KINDS: Final[tuple[tuple[type[LocalpayError], str], ...]] = (
    (NotFound, "not_found"),
    (Conflict, "conflict"),
    (Refused, "refused"),
    (Unavailable, "unavailable"),
)


def error_problem(exc: LocalpayError) -> Response:
    """A LocalpayError a route did not translate itself: its own code when the API
    knows it, else its kind's. An Unavailable says when to retry."""
    kind = next((code for cls, code in ERROR_KINDS if isinstance(exc, cls)), "unavailable")
    code = exc.code if exc.code in API_PROBLEMS else kind
    headers = {"Retry-After": "5"} if isinstance(exc, Unavailable) else None
    return api_problem(code, str(exc), headers)


class ApiProblem(Exception):
    """Raised inside handlers; rendered by the app's exception handler."""

    def __init__(self, code: str, detail: str = "", headers: dict[str, str] | None = None):
        super().__init__(detail or code)
        self.code = code
        self.detail = detail
        self.headers = headers


def responses(*codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the problems an operation can give."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        status = API_PROBLEMS[code][0] if code in API_PROBLEMS else LEDGER_STATUS[Code(code)]
        entry = out.setdefault(
            status,
            {
                "description": "",
                "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            },
        )
        entry["description"] = ", ".join(filter(None, [entry["description"], code]))
    return out

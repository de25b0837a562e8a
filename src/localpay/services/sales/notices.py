"""The bank's deposit notices: authenticated by HMAC-SHA256 over the exact body bytes
with the secret the bank and the platform share, then parsed strictly. A notice that
fails either is refused before anything is looked up or moved."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Final

import msgspec

from localpay.domain.errors import Refused
from localpay.services.sales.ports import DepositNotice

#: The header carrying the signature: "sha256=<64 hex>".
SIGNATURE_HEADER: Final = "X-Bank-Signature"
_PREFIX: Final = "sha256="

_Token = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]


class _Notice(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    notice: _Token
    account: _Token
    amount: Annotated[int, msgspec.Meta(gt=0, le=10**12)]
    deposit_ref: _Token
    paid_ms: Annotated[int, msgspec.Meta(ge=0)]


class BadNoticeSignature(Refused):
    """The notice is not signed with the shared secret: nobody but the bank sends these."""

    code = "bank_signature_invalid"


class BadNotice(Refused):
    """The notice is signed, but not a notice this platform understands."""

    code = "bank_notice_invalid"


def signature(secret: bytes, body: bytes) -> str:
    """The header value for `body` (what the bank sends)."""
    return _PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verified(secret: bytes, body: bytes, header: str | None) -> DepositNotice:
    """The notice in `body` if `header` is its signature under `secret`; else refused."""
    if not secret or not header or not hmac.compare_digest(signature(secret, body), header):
        raise BadNoticeSignature("the deposit notice's signature does not verify")
    try:
        found = msgspec.json.decode(body, type=_Notice)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise BadNotice(f"not a deposit notice: {exc}") from None
    return DepositNotice(
        found.notice, found.account, found.amount, found.deposit_ref, found.paid_ms
    )


def encoded(notice: DepositNotice) -> bytes:
    """A notice's body, as the bank encodes it (for tests and the simulated bank)."""
    return msgspec.json.encode(
        _Notice(notice.notice, notice.account, notice.amount, notice.deposit_ref, notice.paid_ms)
    )

"""A citizen's refund account over HTTP (환불받을 계좌): where the won of a cancelled
purchase or a balance refund are paid (services/settlement/wallet_accounts.py).

Who: the wallet's own key, by its signature over the request (the wallet page signs it
in the browser); no session or token stands in for it, as for the wallet's commands.
The answer shows the account masked, never its number in clear."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field, StrictInt

from localpay.entrypoints.api.deps import container_of, known_city
from localpay.entrypoints.api.problems import MEDIA_TYPE, ApiProblem, problem
from localpay.services.settlement.ports import StoredAccount
from localpay.services.settlement.service import SettlementService
from localpay.services.settlement.views import bank_name, mask_name, mask_number
from localpay.services.settlement.wallet_accounts import (
    AccountRequest,
    NoSuchWallet,
    ReplayedRequest,
    WalletAccountRefused,
    WalletAccounts,
)

router = APIRouter(tags=["settlement"])

PATH: Final = "/v1/cities/{city}/wallets/{wallet}/payout-account"
#: The problems this route answers: code -> (status, title).
PROBLEMS: Final = {
    "validation_failed": (422, "the request does not match the schema"),
    "not_found": (404, "no such city"),
    "account_not_found": (404, "no such wallet in this city"),
    "unknown_signer": (403, "the key is not one of this wallet's"),
    "signature_invalid": (422, "the signature does not verify over the request"),
    "request_stale": (422, "signed more than 5 minutes from the server's clock: sign again"),
    "invalid_account": (422, "the bank account is not acceptable (the detail says which part)"),
    "wallet_custodial": (422, "a card-only wallet's account is registered at the card counter"),
    "request_replayed": (409, "an older request than the account on file"),
    "unavailable": (503, "settlement is not configured on this server"),
}

Hex64 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Hex128 = Annotated[str, Field(pattern=r"^[0-9a-f]{128}$")]


class WalletAccountIn(BaseModel):
    bank: Annotated[
        str, Field(pattern=r"^[0-9]{3}$", description="the bank's 3-digit code (the list: GET …)")
    ]
    number: Annotated[
        str, Field(min_length=1, max_length=40, description="the account number, hyphens allowed")
    ]
    holder: Annotated[
        str, Field(min_length=1, max_length=60, description="the holder's name as the bank has it")
    ]
    at_ms: StrictInt = Field(description="when it was signed (epoch ms); ±5 minutes of now")
    key: Hex64 = Field(description="the wallet's public key that signed (hex)")
    sig: Hex128 = Field(
        description='Ed25519 over UTF-8 "localpay/payout-account/v1\\n{city}\\n{wallet}\\n'
        '{bank}\\n{number}\\n{holder}\\n{at_ms}", the fields exactly as sent'
    )


class WalletAccountOut(BaseModel):
    bank: str
    bank_name: str = Field(description="the bank's Korean name")
    number: str = Field(description="masked: only the last 4 digits are shown")
    holder: str = Field(description="masked: first and last letters only")
    registered_ms: int = Field(description="when the citizen signed it")


def _problems(*codes: str) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        status = PROBLEMS[code][0]
        schema = {"schema": {"$ref": "#/components/schemas/Problem"}}
        entry = out.setdefault(status, {"description": "", "content": {MEDIA_TYPE: schema}})
        entry["description"] = ", ".join(filter(None, [entry["description"], code]))
    return out


def account_out(stored: StoredAccount) -> WalletAccountOut:
    party = stored.party  # its number digits only, as kept
    return WalletAccountOut(
        bank=party.bank,
        bank_name=bank_name(party.bank),
        number=mask_number(party.account),
        holder=mask_name(party.name),
        registered_ms=stored.at_ms,
    )


def _refusal(code: str, detail: str) -> Response:
    status, title = PROBLEMS[code]
    return problem(status, code, title, detail)


@router.put(
    PATH,
    response_model=WalletAccountOut,
    response_class=Response,
    summary="The citizen's refund account (환불받을 계좌), signed by the wallet's key",
    description="Where the won of the wallet's cancelled purchases and balance refunds are "
    "paid by the next daily batch. The signature is the authority (no session needed). "
    "A request signed more than 5 minutes from now, or older than the account on file, "
    "is refused; the same request again answers as the first time.",
    responses=_problems(*PROBLEMS),
)
async def put_wallet_account(
    request: Request, city: str, wallet: str, body: WalletAccountIn
) -> Response:
    container = container_of(request)
    known_city(container, city)
    settlement: SettlementService | None = getattr(container, "settlement", None)
    if settlement is None:
        raise ApiProblem("unavailable", "settlement is not configured on this server")
    asked = AccountRequest(
        city, wallet, body.bank, body.number, body.holder, body.at_ms, body.key, body.sig
    )
    now = int(container.clock())
    try:
        stored = await run_in_threadpool(WalletAccounts(settlement).register, asked, now)
    except (WalletAccountRefused, NoSuchWallet, ReplayedRequest) as exc:
        return _refusal(exc.code, str(exc))
    out = account_out(stored)
    return Response(out.model_dump_json(), media_type="application/json")

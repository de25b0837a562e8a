"""The simulated bank's HTTP face: the platform's side (virtual accounts, debits; HMAC
signed requests) and the citizen's side (a tiny transfer page, as a banking app)."""

from __future__ import annotations

import asyncio
import hmac
import html
import json
import logging
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from localpay.adapters.bank.mockbank import MockBankClient, trust_account_id
from localpay.domain.errors import LocalpayError
from localpay.sim.bank.ledger import BankBook, BankRefusal, Notice
from localpay.sim.bank.notifier import Notifier, sign

NAME = "모의은행 (Simulated bank)"
#: Who the trust account's statement says paid in (the citizen's name stays here).
PAYER = "지역화폐 구매자"
log = logging.getLogger(__name__)


def _forward(trust: MockBankClient | None, book: BankBook, notice: Notice) -> None:
    """The deposit's won arrive in the city's trust account at mock-bank, under the
    deposit's reference as EndToEndId, so its camt.053 shows the same won the platform
    was told of. Best effort: the citizen's transfer stands if mock-bank is down, and
    reconciliation then names the missing credit."""
    account = book.account(notice.account)
    if trust is None or account is None:
        return
    try:
        trust.credit(trust_account_id(account.city), notice.amount, notice.deposit_ref, PAYER)
    except LocalpayError as exc:
        log.warning("deposit %s not credited at mock-bank: %s", notice.deposit_ref, exc)


def _now() -> int:
    return int(time.time() * 1000)


def _refused(exc: BankRefusal) -> JSONResponse:
    return JSONResponse({"code": exc.code, "detail": str(exc)}, status_code=exc.status)


async def _signed_json(request: Request, secret: bytes) -> dict[str, Any]:
    body = await request.body()
    given = request.headers.get("x-bank-signature", "")
    if not hmac.compare_digest(sign(secret, body), given):
        raise BankRefusal(401, "signature_invalid", "the request is not signed by the platform")
    try:
        found = json.loads(body)
    except ValueError:
        raise BankRefusal(400, "malformed", "not JSON") from None
    if not isinstance(found, dict):
        raise BankRefusal(400, "malformed", "not a JSON object")
    return found


def _whole(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BankRefusal(422, "malformed", f"{name} must be a whole number of won > 0")
    return value


_PAGE = """<!doctype html>
<html lang="ko"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>모의은행 이체 · Simulated bank transfer</title>
<style>
body {{ font: 1.1rem/1.5 sans-serif; margin: 0 auto; max-width: 32rem; padding: 1rem;
  color: #1b1b1b; background: #fff; }}
label {{ display: block; margin-top: 1rem; font-weight: bold; }}
input {{ font-size: 1.1rem; width: 100%; box-sizing: border-box; min-height: 44px;
  padding: .4rem; }}
button {{ margin-top: 1rem; min-height: 48px; width: 100%; font-size: 1.2rem; color: #fff;
  background: #0b4f9c; border: 0; border-radius: .4rem; }}
button:focus-visible, input:focus-visible {{ outline: 3px solid #b35c00; outline-offset: 2px; }}
.answer {{ margin-top: 1rem; padding: .8rem; border-radius: .4rem; background: #eef6ee; }}
.answer.refused {{ background: #fdeeee; }}
</style></head>
<body><main>
<h1>모의은행 <small lang="en">Simulated bank</small></h1>
<p>지역화폐 구매 대금을 가상계좌로 이체합니다. <span lang="en">Transfer the payment for your
local currency into its virtual account.</span></p>
{answer}
<form method="post" action="/transfers">
<label for="account">가상계좌 번호 <span lang="en">Virtual account</span></label>
<input id="account" name="account" autocomplete="off" required value="{account}">
<label for="amount">금액(원) <span lang="en">Amount (won)</span></label>
<input id="amount" name="amount" inputmode="numeric" autocomplete="off" required value="{amount}">
<button type="submit">이체하기 <span lang="en">Transfer</span></button>
</form></main></body></html>"""

_WORDS = {
    "done": (
        "이체했습니다. 곧 지역화폐가 충전됩니다.",
        "Transferred. Your local currency is charged shortly.",
    ),
    "no_account": ("그런 가상계좌가 없습니다.", "There is no such virtual account."),
    "wrong_amount": (
        "이 계좌에는 정해진 금액만 이체할 수 있습니다.",
        "This account takes only its set amount.",
    ),
    "already_paid": ("이미 이체된 계좌입니다.", "This account is paid already."),
    "malformed": ("계좌 번호와 금액을 확인해 주세요.", "Check the account number and the amount."),
}


def _page(account: str = "", amount: str = "", answer: str = "", ok: bool = True) -> str:
    box = ""
    if answer:
        ko, en = _WORDS.get(answer, _WORDS["malformed"])
        css = "answer" if ok else "answer refused"
        box = (
            f'<p class="{css}" role="status" data-answer="{answer}">'
            f'{ko} <span lang="en">{en}</span></p>'
        )
    return _PAGE.format(answer=box, account=html.escape(account), amount=html.escape(amount))


def create_bank_app(
    book: BankBook, notifier: Notifier, secret: bytes, trust: MockBankClient | None = None
) -> Starlette:
    """`trust`: mock-bank, where each deposit's won also arrive in the trust account."""

    async def virtual_accounts(request: Request) -> Response:
        try:
            asked = await _signed_json(request, secret)
            account = book.open_account(
                str(asked.get("city", "")),
                str(asked.get("order", "")),
                _whole(asked.get("amount"), "amount"),
                _whole(asked.get("deadline_ms"), "deadline_ms"),
                _now(),
            )
        except BankRefusal as exc:
            return _refused(exc)
        return JSONResponse(
            {
                "account": account.number,
                "amount": account.amount,
                "deadline_ms": account.deadline_ms,
                "bank": NAME,
            },
            status_code=201,
        )

    async def debits(request: Request) -> Response:
        """A linked account debited at once: the account is opened and paid in one go."""
        try:
            asked = await _signed_json(request, secret)
            amount = _whole(asked.get("amount"), "amount")
            account = book.open_account(
                str(asked.get("city", "")),
                str(asked.get("order", "")),
                amount,
                _whole(asked.get("deadline_ms", _now() + 60_000), "deadline_ms"),
                _now(),
            )
            notice = book.transfer(account.number, amount, _now())
        except BankRefusal as exc:
            return _refused(exc)
        await asyncio.to_thread(_forward, trust, book, notice)
        notifier.wake.set()
        return JSONResponse(
            {
                "account": account.number,
                "amount": amount,
                "deadline_ms": account.deadline_ms,
                "bank": NAME,
            },
            status_code=201,
        )

    async def home(request: Request) -> Response:
        return HTMLResponse(
            _page(
                request.query_params.get("account", "")[:40],
                request.query_params.get("amount", "")[:15],
            )
        )

    async def transfers(request: Request) -> Response:
        is_json = request.headers.get("content-type", "").startswith("application/json")
        if is_json:
            asked = await request.json()
        else:
            asked = dict(await request.form())
        account, amount = str(asked.get("account", ""))[:40], str(asked.get("amount", ""))[:15]
        try:
            won = int(amount.replace(",", "").replace("원", "").strip())
            notice = book.transfer(account, won, _now())
        except ValueError:
            return _answer(is_json, account, amount, BankRefusal(422, "malformed", "not a number"))
        except BankRefusal as exc:
            return _answer(is_json, account, amount, exc)
        await asyncio.to_thread(_forward, trust, book, notice)
        notifier.wake.set()
        if is_json:
            return JSONResponse({"notice": notice.id, "deposit_ref": notice.deposit_ref}, 201)
        return HTMLResponse(_page(answer="done"), status_code=201)

    async def account(request: Request) -> Response:
        found = book.account(request.path_params["number"])
        if found is None:
            return JSONResponse({"code": "no_account"}, status_code=404)
        return JSONResponse({"account": found.number, "amount": found.amount, "paid": found.paid})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "undelivered": book.undelivered()})

    return Starlette(
        routes=[
            Route("/", home),
            Route("/transfers", transfers, methods=["POST"]),
            Route("/virtual-accounts", virtual_accounts, methods=["POST"]),
            Route("/debits", debits, methods=["POST"]),
            Route("/accounts/{number}", account),
            Route("/healthz", healthz),
        ]
    )


def _answer(is_json: bool, account: str, amount: str, exc: BankRefusal) -> Response:
    if is_json:
        return _refused(exc)
    return HTMLResponse(_page(account, amount, exc.code, ok=False), status_code=exc.status)

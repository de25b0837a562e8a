"""The citizen pays a shop: find the shop, see what the payment would do, sign in the
browser; then the receipt, its proof checked in the page.

Only the signed-in citizen of the wallet sees these pages (`citizen`); anyone else gets
the sign-in page or the 404 page. The server never signs: the page's JS signs the `pay`
command with the device's key (static/js/wallet/pay.js) and posts it to the API. The
preview here decides by the ledger's own rule (services/wallets/preview.py).
"""

from __future__ import annotations

import re
from typing import Any, Final

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from localpay.bootstrap import Container
from localpay.domain.commands import DecodeError, decode_envelope
from localpay.entrypoints.web.deps import container
from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.i18n import N_
from localpay.entrypoints.web.labels import CATEGORY_NAMES
from localpay.entrypoints.web.outcomes import PLAIN, plain
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.wallet import citizen, wallet_context
from localpay.entrypoints.web.security import finish
from localpay.ledger import machine
from localpay.ledger.blocks import TxRecord
from localpay.services.cities.inspect import require_city, wallet_view
from localpay.services.directory.service import ACCOUNT, Shop
from localpay.services.identity import access
from localpay.services.identity.service import Principal
from localpay.services.wallets import activity, preview

router = APIRouter()

#: A command id, as the API and the ledger take it.
TX_ID: Final = re.compile(r"[0-9a-f]{32}")
QUERY_MAX: Final = 60
AMOUNT_DIGITS: Final = 12

# -- who -------------------------------------------------------------------------------------
# `citizen` (routes/wallet.py): the signed-in citizen of a wallet of this city; nobody: to
# the wallet's sign-in; anyone else: the 404 page.


def wallet_of(found: Principal) -> str:
    assert found.wallet is not None  # `citizen` admits only a principal with a wallet
    return found.wallet


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def whole_won(raw: str) -> int | None:
    """An amount typed by a person (`12,000`, `12000원`); None unless whole won > 0."""
    text = raw.replace(",", "").replace("원", "").replace("₩", "").strip()
    if not text.isdigit() or len(text) > AMOUNT_DIGITS or text.startswith("0"):
        return None
    return int(text)


def common(request: Request, city: str, found: Principal) -> dict[str, Any]:
    """What every wallet page of mine shows: the city, the wallet, the words for codes."""
    return {
        **wallet_context(request, city),
        "wallet": wallet_of(found),
        "category_names": CATEGORY_NAMES,
        "plain": plain,
    }


def balances(box: Container, city: str, wallet: str) -> list[preview.ProgramLine]:
    """The wallet now, one line per program (names from the programs' newest version)."""
    view = wallet_view(box.store, city, wallet)
    programs = preview.load_programs(box.store, city, view.by_program)
    return [
        preview.ProgramLine(
            program, preview.program_name(programs.get(program), program), held, 0, held
        )
        for program, held in sorted(view.by_program.items())
    ]


# -- find the shop -----------------------------------------------------------------------------


@router.get("/c/{city}/wallet/pay")
def pay_search(
    request: Request, city: str, q: str = "", area: str = "", category: str = ""
) -> Response:
    found = citizen(request, city)
    box = container(request)
    q, area, category = q.strip()[:QUERY_MAX], area[:QUERY_MAX], category[:QUERY_MAX]
    shops = box.directory.shops(city, query=q, area=area, category=category, limit=30)
    context = {
        **common(request, city, found),
        "shops": shops,
        "q": q,
        "area": area,
        "category": category,
        "areas": sorted(box.directory.area_names(city).items(), key=lambda a: a[1][0]),
        "categories": box.directory.categories(city),
    }
    block = "shops" if is_htmx(request) else None
    return page(request, "wallet/pay.html", context, block=block)


def shop_or_404(box: Container, city: str, merchant: str) -> Shop:
    shop = box.directory.shop(city, merchant) if ACCOUNT.fullmatch(merchant) else None
    if shop is None:
        raise PageError(404, N_("There is no such shop."))
    return shop


# -- how much, and what it would do ------------------------------------------------------------


@router.get("/c/{city}/wallet/pay/{merchant}")
def pay_shop(request: Request, city: str, merchant: str, amount: str = "") -> Response:
    """The shop, an amount box, and once an amount is given the preview with the confirm
    step (htmx swaps only the preview as the amount is typed)."""
    found = citizen(request, city)
    box = container(request)
    shop = shop_or_404(box, city, merchant)
    wallet = wallet_of(found)
    typed = amount.strip()[:20]
    value = whole_won(typed) if typed else None
    result = None
    if typed:
        result = preview.load_payment(
            box.store, city, wallet, shop.merchant, value or 0, box.clock()
        )
    context = {
        **common(request, city, found),
        "shop": shop,
        "amount_text": typed,
        "amount": value,
        "preview": result,
        "holdings": balances(box, city, wallet),
    }
    block = "preview" if is_htmx(request) else None
    return page(request, "wallet/pay_shop.html", context, block=block)


@router.get("/c/{city}/wallet/why")
def why(request: Request, city: str, code: str = "", of: str = "") -> Response:
    """The plain words for a refusal the API gave a signed command (a partial); `of`
    "gift" for a gift's."""
    found = citizen(request, city)
    context = {
        **common(request, city, found),
        "code": code if code in PLAIN else "",
        "gift": of == "gift",
    }
    return page(request, "wallet/pay_why.html", context)


# -- the receipt -----------------------------------------------------------------------------


def own_tx(box: Container, city: str, found: Principal, tx_id: str) -> TxRecord:
    """The transaction if the citizen's wallet is a party of it; else the 404 page, so a
    page never confirms another wallet's transaction exists."""
    tx = box.store.find_tx(city, tx_id) if TX_ID.fullmatch(tx_id) else None
    if tx is None:
        raise PageError(404, N_("There is no such page."))
    try:
        _, command = decode_envelope(tx.envelope)
    except DecodeError:
        raise PageError(404, N_("There is no such page.")) from None
    if not access.reads_transaction(found, city, set(machine.accounts_of(command))):
        raise PageError(404, N_("There is no such page."))
    return tx


def pins(box: Container, city: str) -> dict[str, Any]:
    """What the page checks the receipt against: the city's genesis operator key and its
    witness set, from this server's own chain state (not from the receipt itself)."""
    genesis = require_city(box.store, city)
    auth = box.transparency.authorities(city)
    found: dict[str, Any] = {"operatorKey": genesis.operator_key}
    if auth.witnesses and auth.quorum:
        found["witnesses"] = [{"name": n, "key": k} for k, n in sorted(auth.witnesses.items())]
        found["quorum"] = auth.quorum
    return found


@router.get("/c/{city}/wallet/receipts/{tx_id}")
def receipt(request: Request, city: str, tx_id: str) -> Response:
    found = citizen(request, city)
    box = container(request)
    tx = own_tx(box, city, found, tx_id)
    wallet = wallet_of(found)
    line = activity.line_of(box.store, city, wallet, tx)
    shop = (
        box.directory.shop(city, line.party)
        if line.kind in (activity.PAID, activity.REFUNDED)
        else None
    )
    proof = box.transparency.receipt_for(city, tx)
    context = {
        **common(request, city, found),
        "line": line,
        "shop": shop,
        "drawn": activity.drawn(box.store, city, wallet, tx),
        "holdings": balances(box, city, wallet),
        # Embedded with |tojson (HTML-safe JSON) and checked by the page's JS.
        "proof": proof,
        "pins": pins(box, city),
    }
    return page(request, "wallet/receipt.html", context)


@router.get("/c/{city}/wallet/receipts/{tx_id}/receipt.json")
def receipt_json(request: Request, city: str, tx_id: str) -> Response:
    """The receipt as a file, checkable offline (localpay verify-receipt)."""
    found = citizen(request, city)
    box = container(request)
    tx = own_tx(box, city, found, tx_id)
    body = orjson.dumps(box.transparency.receipt_for(city, tx), option=orjson.OPT_INDENT_2)
    response = Response(body, media_type="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="receipt-{tx.id}.json"'
    return finish(request, response)

"""An online shop's checkout in a real browser against a live server: the mall's server
creates an intent over HTTP with its API key, the demo wallet opens the approval page,
sees the shop (verified), the amount, the order and "usable here", approves with the
keyboard, lands on the mall's return URL (a real server on a socket) with the intent and
`status=approved`, and the mall captures over the API. Also: a shopper at a computer sees
the QR of the page and signs in from it; an expired or already paid intent is told in
plain words; another city's session gets the 404 page; senior mode; 360 px wide."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from localpay.adapters.keystore import KeyStore
from localpay.sim.demo import DEMO_SECRET, derived_key
from localpay.testing.browser import (
    PHONE,
    Site,
    chromium,
    citizen_cookie,
    horizontal_overflow,
    serious_violations,
)
from localpay.testing.servers import free_port, live_container, seed

pytestmark = pytest.mark.slow

CITY = "gimpo"
WALLET = "w-0000001"
SHOP = "m-00000"


class Mall:
    """The mall's own web server: it records each return of a shopper."""

    def __init__(self) -> None:
        self.returns: list[dict[str, list[str]]] = []
        mall = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                where = urlsplit(self.path)
                if where.path == "/orders/back":  # not the browser's /favicon.ico
                    mall.returns.append(parse_qs(where.query))
                body = b"<!doctype html><html lang=en><title>Mall</title><h1>Thank you</h1>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.url = f"http://127.0.0.1:{self.port}/orders/back"

    def __enter__(self) -> Mall:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as found:
        yield found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("checkout-site")
    url, keys = f"sqlite:///{root / 'site.db'}", root / "keys"
    seed(url, keys)
    with live_container(url, keys) as (base, container, _):
        yield Site(base, container, keys)


@pytest.fixture(scope="module")
def mall() -> Iterator[Mall]:
    with Mall() as found:
        yield found


@pytest.fixture(scope="module")
def api_key(site: Site) -> str:
    return site.container.identity.issue_api_key(CITY, SHOP, "mall")[1]


def mall_call(site: Site, api_key: str, method: str, path: str, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": str(uuid.uuid4())}
    return httpx.request(method, f"{site.base}{path}", headers=headers, timeout=30, **kw)


def new_intent(site: Site, api_key: str, mall: Mall, amount: int, **extra: Any) -> dict[str, Any]:
    body = {"amount": amount, "order_id": f"A-{uuid.uuid4().hex[:6]}", "return_url": mall.url}
    answer = mall_call(
        site, api_key, "POST", f"/v1/cities/{CITY}/checkout/intents", json={**body, **extra}
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _seed(site: Site) -> str:
    return bytes(derived_key(bytes(KeyStore(site.keys).load(CITY, DEMO_SECRET)), WALLET)).hex()


def _phone(browser: Browser, site: Site, signed_in: bool = True) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, locale="ko-KR", base_url=site.base)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    if signed_in:
        context.add_cookies([citizen_cookie(site, CITY, WALLET)])  # type: ignore[list-item]
    page = context.new_page()
    page.goto(f"/c/{CITY}/wallet/")
    page.evaluate(
        """async ([city, wallet, seed]) => {
          const keys = await import("/static/js/wallet/keys.js");
          await keys.saveWallet(city, wallet, keys.hexToBytes(seed));
        }""",
        [CITY, WALLET, _seed(site)],
    )
    yield page
    context.close()


@pytest.fixture
def phone(browser: Browser, site: Site) -> Iterator[Page]:
    """A phone holding w-0000001's key, signed in."""
    yield from _phone(browser, site)


@pytest.fixture
def fresh_phone(browser: Browser, site: Site) -> Iterator[Page]:
    """A phone holding w-0000001's key, not signed in."""
    yield from _phone(browser, site, signed_in=False)


def _tab_to(page: Page, selector: str, presses: int = 40) -> None:
    for _ in range(presses):
        if page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
            return
        page.keyboard.press("Tab")
    pytest.fail(f"Tab never reached {selector}")


def _balance(site: Site) -> int:
    state = site.container.ledgers.sequencer(CITY).state
    return sum(lot.amount for lot in state.wallets[WALLET].lots)


def test_approve_in_the_wallet_return_to_the_mall_and_capture(
    phone: Page, site: Site, api_key: str, mall: Mall
) -> None:
    intent = new_intent(site, api_key, mall, 18_500, description="김포 쌀 10kg")
    before = _balance(site)
    page = phone
    page.goto(urlsplit(intent["approval_url"]).path)
    expect(page.locator("#shop-verified")).to_be_visible()
    expect(page.locator("#checkout-amount")).to_have_text("18,500원")
    expect(page.locator("#checkout-order")).to_have_text(intent["order_id"])
    expect(page.locator("#preview")).to_contain_text("여기서 쓸 수 있어요")
    expect(page.locator(".checkout-order")).to_contain_text("김포 쌀 10kg")
    assert serious_violations(page) == []
    assert _balance(site) == before  # the page alone moves nothing
    _tab_to(page, "[data-checkout-approve]")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{mall.url}?*")
    back = mall.returns[-1]
    assert back["intent"] == [intent["id"]] and back["status"] == ["approved"]
    assert _balance(site) == before - 18_500
    path = f"/v1/cities/{CITY}/checkout/intents/{intent['id']}"
    captured = mall_call(site, api_key, "POST", path + "/capture", json={})
    assert captured.status_code == 200, captured.text
    assert captured.json()["status"] == "captured" and captured.json()["captured"] == 18_500
    # Opened again (the link, a reload): paid once, and the page says so.
    page.goto(urlsplit(intent["approval_url"]).path)
    expect(page.locator("#checkout-status")).to_have_attribute("data-status", "captured")
    expect(page.locator("[data-checkout-approve]")).to_have_count(0)
    # The wallet's own receipt of the approval: the balance per program after it.
    page.locator("#checkout-receipt").click()
    page.wait_for_url(f"**/wallet/receipts/{captured.json()['payment']}")
    expect(page.locator("#verify-status")).to_have_attribute("data-verified", "ok")


def test_a_second_approval_of_the_same_intent_is_refused_in_plain_words(
    phone: Page, site: Site, api_key: str, mall: Mall
) -> None:
    """Two tabs show the same pending intent; the second one's hold is the ledger's
    intent_used, told in plain words, and nothing more is held."""
    intent = new_intent(site, api_key, mall, 2_200)
    page = phone
    page.goto(urlsplit(intent["approval_url"]).path)
    other = page.context.new_page()
    other.goto(urlsplit(intent["approval_url"]).path)
    page.locator("[data-checkout-approve]").click()
    page.wait_for_url(f"{mall.url}?*")
    after_first = _balance(site)
    other.locator("[data-checkout-approve]").click()
    expect(other.locator("#pay-answer")).to_contain_text("이미 결제")
    assert _balance(site) == after_first
    other.close()


def test_a_shopper_at_a_computer_scans_the_qr_and_signs_in_on_the_phone(
    fresh_phone: Page, site: Site, api_key: str, mall: Mall
) -> None:
    intent = new_intent(site, api_key, mall, 3_000)
    page = fresh_phone
    page.goto(urlsplit(intent["approval_url"]).path)
    qr = page.locator("#checkout-qr")
    expect(qr).to_be_visible()
    assert page.evaluate("() => document.getElementById('checkout-qr').naturalWidth") > 0
    svg = httpx.get(intent["qr_svg_url"], timeout=30)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert serious_violations(page) == []
    # This phone holds the wallet's key: one button signs in, then the approval is there.
    page.get_by_role("button", name="이 기기로 로그인").click()
    expect(page.locator("[data-checkout-approve]")).to_be_visible()


def test_an_expired_intent_is_refused_in_plain_words(
    phone: Page, site: Site, api_key: str, mall: Mall
) -> None:
    intent = new_intent(site, api_key, mall, 1_500, expires_in=60)
    site.container.checkout.expire_due(intent["expires_ms"])
    phone.goto(urlsplit(intent["approval_url"]).path)
    status = phone.locator("#checkout-status")
    expect(status).to_have_attribute("data-status", "expired")
    expect(status).to_contain_text("만료")
    expect(phone.locator("[data-checkout-approve]")).to_have_count(0)


def test_another_citys_citizen_and_an_unknown_intent_get_the_404_page(
    browser: Browser, site: Site, api_key: str, mall: Mall
) -> None:
    intent = new_intent(site, api_key, mall, 1_000)
    context = browser.new_context(base_url=site.base)
    try:
        context.add_cookies([citizen_cookie(site, "yangju", WALLET)])  # type: ignore[list-item]
        page = context.new_page()
        answer = page.goto(f"/c/yangju/wallet/checkout/{intent['id']}")
        assert answer is not None and answer.status == 404
        answer = page.goto(f"/c/{CITY}/wallet/checkout/{intent['id']}")
        assert answer is not None and answer.status == 404  # signed in as another city's
        answer = page.goto(f"/c/{CITY}/wallet/checkout/{'0' * 32}")
        assert answer is not None and answer.status == 404
    finally:
        context.close()


def test_senior_mode_and_a_narrow_window(
    browser: Browser, site: Site, api_key: str, mall: Mall
) -> None:
    intent = new_intent(site, api_key, mall, 12_000)
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=2, locale="ko-KR",
        base_url=site.base,
    )  # fmt: skip
    try:
        context.add_cookies([citizen_cookie(site, CITY, WALLET)])  # type: ignore[list-item]
        context.add_cookies([{"name": "localpay_senior", "value": "1", "url": site.base}])
        page = context.new_page()
        page.goto(urlsplit(intent["approval_url"]).path)
        button = page.get_by_role("button", name="결제하기")
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box is not None and box["height"] >= 44
        expect(page.locator(".checkout-qr")).to_be_hidden()  # fewer things per screen
        assert horizontal_overflow(page) == 0
        assert serious_violations(page) == []
    finally:
        context.close()

"""The citizen pays a shop in a real browser: find the shop, see the "usable here"
preview, sign on the device, see the receipt verified in the page; a payment the program
forbids and a gift of money that cannot be given are explained and change nothing; the
history links each payment to its receipt; the pay flow works with the keyboard only."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from localpay.adapters.keystore import KeyStore
from localpay.domain import commands as c
from localpay.services.cities.inspect import wallet_view
from localpay.services.cities.ledgers import new_id
from localpay.sim.demo import DEMO_SECRET, derived_key
from localpay.testing.browser import (
    PHONE,
    Site,
    citizen_cookie,
    serious_violations,
    staff_cookie,
)
from localpay.testing.journeys import as_officials, hypermarket
from localpay.testing.servers import pay_over_http, signed_payment

pytestmark = pytest.mark.slow

CITY = "gimpo"
WALLET = "w-0000001"
#: A hypermarket: the demo's programs all deny its category (sim/gimpo.EXCLUDED_CATEGORIES).
MART = "m-bigmart"
BAKERY = "m-00000"
YOUTH = 200_000


@pytest.fixture(scope="module")
def world(site: Site) -> Site:
    """The seeded site plus a hypermarket (registered and approved by the officials) and a
    youth dividend in w-0000001 (not transferable), beside its general money."""
    hypermarket(site, CITY, MART, "구래동 대형마트", "Gurae-dong Hypermarket")
    as_officials(
        site,
        CITY,
        c.Mint(id=new_id(), city=CITY, program="youth", amount=YOUTH, won_ref="test"),
        c.Credit(
            id=new_id(), city=CITY, program="youth", wallet=WALLET, amount=YOUTH, origin="test"
        ),
    )
    return site


@pytest.fixture
def citizen(browser: Browser, world: Site) -> Iterator[Page]:
    """A phone whose browser holds w-0000001's key (as keys.js keeps it) and a session."""
    yield from _phone(browser, world)


@pytest.fixture
def citizen_without_worker(browser: Browser, world: Site) -> Iterator[Page]:
    """The same, with service workers blocked: a request the wallet's worker answers
    never reaches Playwright's routes."""
    yield from _phone(browser, world, service_workers="block")


def _phone(browser: Browser, world: Site, **options: Any) -> Iterator[Page]:
    context = browser.new_context(
        viewport=PHONE,  # type: ignore[arg-type]
        locale="ko-KR",
        base_url=world.base,
        **options,
    )
    context.set_default_timeout(15_000)
    context.add_cookies([citizen_cookie(world, CITY, WALLET)])  # type: ignore[list-item]
    page = context.new_page()
    page.goto(f"/c/{CITY}/wallet/pay")
    seed = bytes(derived_key(bytes(KeyStore(world.keys).load(CITY, DEMO_SECRET)), WALLET))
    page.evaluate(
        """async ([city, wallet, seed]) => {
          const keys = await import("/static/js/wallet/keys.js");
          await keys.saveWallet(city, wallet, keys.hexToBytes(seed));
        }""",
        [CITY, WALLET, seed.hex()],
    )
    yield page
    context.close()


def _balance(site: Site) -> dict[str, int]:
    return dict(wallet_view(site.container.store, CITY, WALLET).by_program)


def test_pay_a_shop_after_the_preview_and_see_the_receipt_verified(
    citizen: Page, world: Site
) -> None:
    page = citizen
    before = _balance(world)
    page.get_by_label("가게 이름 또는 코드").fill("m-00000")
    shop = page.locator(f"a[href='/c/{CITY}/wallet/pay/{BAKERY}']")
    expect(page.locator("ul.shop-list a")).to_have_count(1)  # the live search (htmx) narrowed it
    assert serious_violations(page) == []
    shop.click()
    page.wait_for_url(re.compile(f"/wallet/pay/{BAKERY}$"))
    page.wait_for_load_state()  # htmx is a deferred script: typing before it runs is lost
    page.get_by_label("금액 (원)").fill("12,000")
    preview = page.locator("#preview")
    expect(preview).to_contain_text("여기서 쓸 수 있어요")
    expect(preview).to_contain_text("12,000원")
    assert serious_violations(page) == []
    assert _balance(world) == before  # a preview changes nothing
    page.get_by_role("button", name=re.compile("12,000원 결제")).click()
    page.wait_for_url(re.compile(r"/wallet/receipts/[0-9a-f]{32}$"))
    status = page.locator("#verify-status")
    expect(status).to_have_attribute("data-verified", "ok")
    expect(status).to_contain_text("검증됨")
    expect(page.locator(".receipt")).to_contain_text("12,000원")
    assert serious_violations(page) == []
    after = _balance(world)
    assert sum(before.values()) - sum(after.values()) == 12_000
    # The youth dividend expires first: the ledger drew it, and the page says so.
    expect(page.locator(".receipt")).to_contain_text("청년기본소득")
    download = page.get_by_role("link", name="영수증 내려받기 (JSON)")
    assert download.get_attribute("href", timeout=1000)


def test_a_payment_the_program_forbids_is_explained_and_changes_nothing(
    citizen: Page, world: Site
) -> None:
    page = citizen
    before = _balance(world)
    page.goto(f"/c/{CITY}/wallet/pay/{MART}?amount=5000")
    refusal = page.locator("#preview [data-refusal]")
    expect(refusal).to_have_attribute("data-refusal", "category_denied")
    expect(refusal).to_contain_text("이런 종류의 가게에서는 쓸 수 없는 돈입니다")
    expect(page.locator("[data-pay-confirm]")).to_have_count(0)
    assert serious_violations(page) == []
    # Signed anyway (a stale page, another app): the ledger refuses it the same way.
    answer = _pay_from_page(page, MART, 5000)
    assert answer["code"] == "category_denied"
    assert _balance(world) == before


def _pay_from_page(page: Page, merchant: str, amount: int) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate(
        """async ([city, wallet, merchant, amount]) => {
          const keys = await import("/static/js/wallet/keys.js");
          const api = await import("/static/js/wallet/api.js");
          const device = await keys.loadWallet(city);
          const body = {type: "pay", id: keys.newCommandId(), city, wallet, merchant,
                        amount, evidence: ""};
          const envelope = await keys.signCommand(device.seed, body);
          const answer = await api.postCommand(`/v1/cities/${city}/payments`, envelope,
                                               keys.newCommandId());
          return answer.data;
        }""",
        [CITY, WALLET, merchant, amount],
    )
    return found


def test_the_refusal_of_a_signed_payment_is_shown_in_plain_words(
    citizen: Page, world: Site
) -> None:
    """The preview said yes, then the ledger said no (the money went meanwhile): the page
    shows the ledger's reason, and nothing changes."""
    page = citizen
    page.goto(f"/c/{CITY}/wallet/pay/{BAKERY}?amount=1000")
    expect(page.locator("[data-pay-confirm]")).to_be_visible()
    total = sum(_balance(world).values())
    page.goto(f"/c/{CITY}/wallet/pay/{BAKERY}?amount={total}")
    expect(page.locator("[data-pay-confirm]")).to_be_visible()
    # Meanwhile another device spends 1,000 won: the page's amount is now too much.
    assert _pay_from_page(page, BAKERY, 1000)["code"] == "ok"
    before = _balance(world)
    page.locator("[data-pay-confirm]").click()
    answer = page.locator("#pay-answer")
    expect(answer.locator("[data-refusal]")).to_have_attribute("data-refusal", "insufficient_funds")
    expect(answer).to_contain_text("여기서 쓸 수 있는 돈이 모자랍니다")
    assert _balance(world) == before


def test_a_gift_of_money_that_cannot_be_given_is_explained(citizen: Page, world: Site) -> None:
    page = citizen
    before = _balance(world)
    page.goto(f"/c/{CITY}/wallet/gift")
    page.get_by_label("받는 지갑 (코드, w-…)").fill("w-0000002")
    # More than the general money: the rest would have to be the youth dividend.
    page.get_by_label("금액 (원)").fill(str(before["general"] + 1000))
    page.get_by_role("button", name="이 선물이 하는 일 보기").click()
    refusal = page.locator("#preview [data-refusal]")
    expect(refusal).to_have_attribute("data-refusal", "not_transferable")
    expect(refusal).to_contain_text("다른 지갑에 줄 수 없는 돈입니다")
    expect(page.locator("[data-gift-confirm]")).to_have_count(0)
    assert serious_violations(page) == []
    assert _balance(world) == before


def test_a_gift_that_is_allowed_is_signed_and_sent(citizen: Page, world: Site) -> None:
    page = citizen
    before = _balance(world)
    page.goto(f"/c/{CITY}/wallet/gift")
    page.get_by_label("받는 지갑 (코드, w-…)").fill("w-0000002")
    page.get_by_label("금액 (원)").fill("3000")
    page.get_by_role("button", name="이 선물이 하는 일 보기").click()
    page.get_by_role("button", name="선물 보내기").click()
    page.wait_for_url(re.compile(r"/wallet/receipts/[0-9a-f]{32}$"))
    expect(page.locator("h1")).to_contain_text("보낸 선물")
    expect(page.locator(".receipt")).to_contain_text("보낸 돈")
    expect(page.locator(".receipt")).to_contain_text("김포페이 일반")  # the program given
    assert _balance(world)["general"] == before["general"] - 3000


def test_history_lists_the_payment_with_a_link_to_its_receipt(citizen: Page, world: Site) -> None:
    page = citizen
    # Its own payment: with xdist, the module's other tests may run in another worker.
    paid = pay_over_http(world.base, world.keys, 1_000, BAKERY, WALLET)["id"]
    deadline = time.monotonic() + 10  # the history index is written behind the chain
    while paid not in [tx.id for tx in world.container.history.account_txs(CITY, WALLET, None, 5)]:
        assert time.monotonic() < deadline, "the payment never reached the history index"
        time.sleep(0.05)
    page.goto(f"/c/{CITY}/wallet/history")
    first = page.locator("ul.history a").first
    expect(first).to_be_visible()
    expect(page.locator("ul.history")).to_contain_text("결제")
    expect(page.locator("ul.history")).to_contain_text("지급")  # the youth dividend, by name
    expect(page.locator("ul.history")).to_contain_text("청년기본소득")
    assert serious_violations(page) == []
    payment = page.locator("ul.history a", has_text="결제").first
    payment.click()
    page.wait_for_url(re.compile(r"/wallet/receipts/[0-9a-f]{32}$"))
    expect(page.locator("#verify-status")).to_have_attribute("data-verified", "ok")


def test_another_wallets_receipt_is_a_404(citizen: Page, world: Site) -> None:
    other = wallet_view(world.container.store, CITY, "w-0000003")
    del other
    rows = world.container.history.account_txs(CITY, "w-0000003", None, 5)
    assert rows, "the demo gave w-0000003 some transactions"
    answer = citizen.goto(f"/c/{CITY}/wallet/receipts/{rows[0].id}")
    assert answer is not None and answer.status == 404


def _tab_to(page: Page, selector: str, presses: int = 40) -> None:
    """Press Tab until the element `selector` has the focus (only reading the page)."""
    for _ in range(presses):
        if page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
            return
        page.keyboard.press("Tab")
    pytest.fail(f"Tab never reached {selector}")


def test_keyboard_only_pay_flow(citizen: Page, world: Site) -> None:
    """From the shop list to the receipt with the keyboard alone: Tab, typing, Enter, Space."""
    page = citizen
    before = sum(_balance(world).values())
    page.goto(f"/c/{CITY}/wallet/pay")
    _tab_to(page, "#q")
    page.keyboard.type(BAKERY)
    shop = f"a[href='/c/{CITY}/wallet/pay/{BAKERY}']"
    expect(page.locator("ul.shop-list a")).to_have_count(1)
    _tab_to(page, shop)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(f"/wallet/pay/{BAKERY}$"))
    _tab_to(page, "#amount")
    page.keyboard.type("2500")
    page.keyboard.press("Enter")  # the form's GET: the preview without htmx too
    expect(page.locator("#preview")).to_contain_text("2,500원")
    _tab_to(page, "[data-pay-confirm]")
    page.keyboard.press("Space")
    page.wait_for_url(re.compile(r"/wallet/receipts/[0-9a-f]{32}$"))
    assert before - sum(_balance(world).values()) == 2500


def test_a_receipt_with_a_changed_byte_is_not_verified(
    citizen_without_worker: Page, world: Site
) -> None:
    """The page really checks the proof: one changed hex digit of the inclusion proof in
    the page's embedded receipt, and the badge says which check failed."""
    page = citizen_without_worker
    paid = world.container.ledgers.execute(CITY, signed_payment(world.keys, 700))
    assert paid.ok
    path = f"/c/{CITY}/wallet/receipts/{paid.id}"
    changed: list[str] = []

    def tamper(route: Any) -> None:
        answer = route.fetch()
        html = answer.text()
        marker = '"inclusion_proof": ["'
        at = html.index(marker) + len(marker)
        digit = "0" if html[at] != "0" else "1"
        changed.append(html[at] + digit)
        route.fulfill(response=answer, body=html[:at] + digit + html[at + 1 :])

    page.goto(path)
    expect(page.locator("#verify-status")).to_have_attribute("data-verified", "ok")
    page.route(f"**{path}", tamper)
    page.goto(path)
    assert changed
    status = page.locator("#verify-status")
    expect(status).to_have_attribute("data-verified", "failed")
    expect(status).to_contain_text("검증 실패")
    expect(page.locator("#verify-checks li[data-check='inclusion']")).to_have_class("error")


def test_only_the_wallets_own_citizen_sees_its_pages(
    browser: Browser, citizen: Page, world: Site
) -> None:
    # Another city's wallet pages: 404, never a sign-in that would confirm anything.
    answer = citizen.goto("/c/yangju/wallet/pay")
    assert answer is not None and answer.status == 404
    # Nobody signed in: to the wallet's sign-in, and back here after.
    stranger = browser.new_context(base_url=world.base)
    try:
        page = stranger.new_page()
        page.goto(f"/c/{CITY}/wallet/history")
        assert f"/c/{CITY}/wallet/?next=" in page.url
        # A shop's owner is not a citizen: the wallet pages are not theirs.
        stranger.add_cookies([staff_cookie(world, CITY, "owner")])  # type: ignore[list-item]
        answer = page.goto(f"/c/{CITY}/wallet/pay")
        assert answer is not None and answer.status == 404
    finally:
        stranger.close()


def test_senior_mode_spells_out_the_confirm_step(citizen: Page, world: Site) -> None:
    page = citizen
    page.context.add_cookies([{"name": "localpay_senior", "value": "1", "url": world.base}])
    page.goto(f"/c/{CITY}/wallet/pay/{BAKERY}?amount=1000")
    confirm = page.get_by_role("button", name="결제하기")
    expect(confirm).to_be_visible()
    box = confirm.bounding_box()
    assert box is not None and box["height"] >= 44
    expect(page.locator(".confirm")).to_contain_text("1,000원")
    assert serious_violations(page) == []


def test_a_retry_after_no_answer_never_pays_twice(
    citizen_without_worker: Page, world: Site
) -> None:
    """The payment reaches the ledger but its answer is lost: the page says so and keeps
    the signed envelope; the retry sends the same bytes and key, and pays once. (Service
    workers blocked: the wallet's worker claims the page, and a request it forwards never
    reaches Playwright's route, which made this test pay without losing the answer.)"""
    page = citizen_without_worker
    before = sum(_balance(world).values())
    page.goto(f"/c/{CITY}/wallet/pay/{BAKERY}?amount=3300")
    sent: list[tuple[str | None, str | None]] = []
    url = f"**/v1/cities/{CITY}/payments"

    def lose_the_answer(route: Any) -> None:
        sent.append((route.request.header_value("idempotency-key"), route.request.post_data))
        route.fetch()  # the server gets it and pays...
        route.abort("connectionreset")  # ...and the phone never hears back

    page.route(url, lose_the_answer)
    page.locator("[data-pay-confirm]").click()
    expect(page.locator("#pay-answer")).to_contain_text("두 번 결제되지 않습니다")
    assert sum(_balance(world).values()) == before - 3300
    page.unroute(url)
    page.on(
        "request",
        lambda r: (
            sent.append((r.header_value("idempotency-key"), r.post_data))
            if r.url.endswith("/payments")
            else None
        ),
    )
    page.reload()  # even after a reload: the envelope waits in sessionStorage
    page.locator("[data-pay-confirm]").click()
    page.wait_for_url(re.compile(r"/wallet/receipts/[0-9a-f]{32}$"))
    assert len(sent) == 2 and sent[0] == sent[1]
    assert sum(_balance(world).values()) == before - 3300
    # Answered: the next payment of the same amount is a new one.
    keys = page.evaluate("() => Object.keys(sessionStorage)")
    assert not [k for k in keys if k.startswith("localpay.pending.")], keys


def test_history_is_paged_newest_first(citizen: Page, world: Site) -> None:
    history = world.container.history
    for _ in range(21):
        assert world.container.ledgers.execute(CITY, signed_payment(world.keys, 100)).ok
    deadline = time.monotonic() + 10
    while len(history.account_txs(CITY, WALLET, None, 100)) < 21:  # the index lags a little
        assert time.monotonic() < deadline, "the history index never caught up"
        time.sleep(0.1)
    newest = [tx.id for tx in history.account_txs(CITY, WALLET, None, 100)]
    page = citizen
    page.goto(f"/c/{CITY}/wallet/history")
    links = page.locator("ul.history a")
    expect(links).to_have_count(20)
    first = [str(h).rsplit("/", 1)[-1] for h in links.evaluate_all("as => as.map(a => a.href)")]
    assert first == newest[:20]
    page.get_by_role("link", name="이전 내역").click()
    expect(page.locator("ul.history a").first).to_be_visible()
    second = page.locator("ul.history a").evaluate_all("as => as.map(a => a.href)")
    assert [str(h).rsplit("/", 1)[-1] for h in second] == newest[20 : 20 + len(second)]

"""The refund account (환불받을 계좌) in a real browser on a phone: a cancelled purchase's
won wait for an account, the purchases page asks for it, the citizen chooses the bank and
types the number and holder, the device signs the request with the wallet key, and the
page shows the account masked and the payout as being sent. Axe-clean; senior mode too."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from localpay.domain import commands as c
from localpay.ledger.signatures import sign_command
from localpay.services.cities.ledgers import new_id
from localpay.services.cities.officials import OfficialSigner
from localpay.testing.bank import SALE, add_sale_program, wallet_key
from localpay.testing.browser import PHONE, Site, citizen_cookie, serious_violations

pytestmark = pytest.mark.slow

CITY = "gimpo"
WALLET = "w-0000001"


def _cancelled_purchase(site: Site) -> str:
    """100,000 won bought (the bank's deposit confirmed by the officials), then cancelled:
    a pending payout to the wallet with no account on file."""
    ledgers = site.container.ledgers
    add_sale_program(site.container, CITY)
    genesis = ledgers.sequencer(CITY).state.genesis
    assert genesis is not None
    officials = OfficialSigner(ledgers.keys, CITY, dict(genesis.approvals))
    key = wallet_key(site.keys, WALLET)
    order = c.OrderPurchase(id=new_id(), city=CITY, wallet=WALLET, program=SALE, amount=100_000)
    assert ledgers.execute(CITY, sign_command(order, [key])).ok
    paid = c.ConfirmPurchase(
        id=new_id(), city=CITY, wallet=WALLET, order=order.id, amount=100_000,
        deposit_ref=f"va-{order.id[:8]}",
    )  # fmt: skip
    assert ledgers.execute(CITY, officials.sign(paid)).ok
    cancel = c.CancelPurchase(id=new_id(), city=CITY, wallet=WALLET, purchase=order.id)
    assert ledgers.execute(CITY, sign_command(cancel, [key])).ok
    return order.id


def _phone(browser: Browser, site: Site, senior: bool) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, locale="ko-KR", base_url=site.base)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    context.add_cookies([citizen_cookie(site, CITY, WALLET)])  # type: ignore[list-item]
    if senior:
        context.add_cookies([{"name": "localpay_senior", "value": "1", "url": site.base}])
    page = context.new_page()
    page.goto(f"/c/{CITY}/wallet/")
    seed = bytes(wallet_key(site.keys, WALLET)).hex()
    page.evaluate(
        """async ([city, wallet, seed]) => {
          const keys = await import("/static/js/wallet/keys.js");
          await keys.saveWallet(city, wallet, keys.hexToBytes(seed));
        }""",
        [CITY, WALLET, seed],
    )
    yield page
    context.close()


@pytest.fixture
def citizen(browser: Browser, site: Site) -> Iterator[Page]:
    yield from _phone(browser, site, senior=False)


@pytest.fixture
def senior(browser: Browser, site: Site) -> Iterator[Page]:
    yield from _phone(browser, site, senior=True)


def test_the_purchases_page_asks_for_the_account_and_the_device_signs_it(
    citizen: Page, site: Site
) -> None:
    page = citizen
    payout = _cancelled_purchase(site)
    page.goto(f"/c/{CITY}/wallet/purchases")
    page.get_by_role("link", name="환불금을 받을 계좌를 알려 주세요").click()
    page.wait_for_url(re.compile(r"/wallet/refund-account$"))
    row = page.locator(f'[data-payout="{payout}"]')
    expect(row).to_contain_text("계좌를 기다리는 중")
    expect(row).to_contain_text("100,000원")
    assert serious_violations(page) == []
    page.get_by_label("은행").select_option("088")
    page.get_by_label("계좌번호").fill("12-34")
    page.get_by_label("예금주").fill("김하나")
    page.get_by_role("button", name="계좌 저장").click()
    expect(page.locator("#ra-answer")).to_contain_text("계좌번호")  # refused: too short
    assert site.container.settlement.account_of(CITY, WALLET) is None
    page.get_by_label("계좌번호").fill("110-234-567890")
    page.get_by_role("button", name="계좌 저장").click()
    expect(page.locator("#refund-account-now")).to_contain_text("신한 ********7890")
    expect(row).to_contain_text("보내는 중")
    assert "234567" not in page.content()
    stored = site.container.settlement.account_of(CITY, WALLET)
    assert stored is not None and stored.party.account == "110234567890"
    # The purchases page now says where the money goes.
    page.goto(f"/c/{CITY}/wallet/purchases")
    expect(page.locator("#refund-account-notice")).to_contain_text("신한 ********7890")


def test_senior_mode_shows_the_same_form_in_large_text(senior: Page) -> None:
    page = senior
    page.goto(f"/c/{CITY}/wallet/refund-account")
    expect(page.locator("html")).to_have_class(re.compile("senior"))
    expect(page.get_by_role("heading", level=1)).to_have_text("환불받을 계좌")
    expect(page.get_by_label("은행")).to_be_visible()
    assert serious_violations(page) == []

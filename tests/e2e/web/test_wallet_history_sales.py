"""A wallet's history and receipts word the programs' commands, Korean first: a purchase
order, the purchase with its discount, a cancellation with the won owed back to the bank
account. On a 360 px phone and in senior mode, axe-clean, no horizontal scroll."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from localpay.adapters.keystore import KeyStore
from localpay.domain import commands as c
from localpay.ledger.signatures import sign_command
from localpay.services.cities.ledgers import new_id
from localpay.services.cities.officials import OfficialSigner
from localpay.sim.demo import DEMO_SECRET, derived_key
from localpay.testing.bank import SALE, add_sale_program
from localpay.testing.browser import (
    PHONE,
    Site,
    citizen_cookie,
    horizontal_overflow,
    serious_violations,
)

CITY = "gimpo"
WALLET = "w-0000005"


@pytest.fixture(scope="module")
def bought(site: Site) -> str:
    """w-0000005 buys 100,000 won (10,000 discount) and cancels a second purchase."""
    ledgers = site.container.ledgers
    add_sale_program(site.container, CITY)
    key = derived_key(bytes(KeyStore(site.keys).load(CITY, DEMO_SECRET)), WALLET)
    genesis = ledgers.sequencer(CITY).state.genesis
    assert genesis is not None
    operator = OfficialSigner(ledgers.keys, CITY, dict(genesis.approvals))
    last = ""
    for amount, cancel in ((100_000, False), (50_000, True)):
        order = c.OrderPurchase(id=new_id(), city=CITY, wallet=WALLET, program=SALE, amount=amount)
        assert ledgers.execute(CITY, sign_command(order, [key])).ok
        notice = c.ConfirmPurchase(
            id=new_id(),
            city=CITY,
            wallet=WALLET,
            order=order.id,
            amount=amount,
            deposit_ref=order.id,
        )
        assert ledgers.execute(CITY, operator.sign(notice)).ok
        if cancel:
            back = c.CancelPurchase(id=new_id(), city=CITY, wallet=WALLET, purchase=order.id)
            assert ledgers.execute(CITY, sign_command(back, [key])).ok
            last = back.id
    deadline = time.monotonic() + 10  # the history index is written behind the chain
    while last not in [tx.id for tx in site.container.history.account_txs(CITY, WALLET, None, 5)]:
        assert time.monotonic() < deadline, "the cancellation never reached the history index"
        time.sleep(0.05)
    return last


def _phone(browser: Browser, site: Site, senior: bool) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, locale="ko-KR", base_url=site.base)
    context.set_default_timeout(15_000)
    context.add_cookies([citizen_cookie(site, CITY, WALLET)])  # type: ignore[list-item]
    if senior:
        context.add_cookies([{"name": "localpay_senior", "value": "1", "url": site.base}])
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("senior", [False, True])
def test_the_history_words_a_purchase_its_discount_and_a_cancellation(
    browser: Browser, site: Site, bought: str, senior: bool
) -> None:
    for page in _phone(browser, site, senior):
        page.goto(f"/c/{CITY}/wallet/history")
        history = page.locator("ul.history")
        expect(history).to_contain_text("구매 주문")
        expect(history).to_contain_text("할인 10,000원 포함")
        expect(history).to_contain_text("구매 취소")
        expect(history).to_contain_text("50,000원 계좌로 환불 예정")
        expect(history).to_contain_text("김포사랑상품권")  # the program, by its name
        assert serious_violations(page) == []
        assert not horizontal_overflow(page)
        page.locator("ul.history a", has_text="구매 취소").first.click()
        page.wait_for_url(re.compile(rf"/wallet/receipts/{bought}$"))
        expect(page.locator("h1")).to_contain_text("구매 취소")
        expect(page.locator(".receipt")).to_contain_text("계좌로 환불 예정")
        assert serious_violations(page) == []
        assert not horizontal_overflow(page)

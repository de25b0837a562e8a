"""A citizen's wallet in a real browser: sign up (key made in the page, recovery code
written down and checked), an empty home, a credit through the officials' maker-checker
flow, the card with its amount and expiry, sign out and back in with the device's key,
and a restore on a fresh browser with the recovery code.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import nacl.signing
import pytest
from playwright.sync_api import Browser, Page, expect

from localpay.domain import commands as c
from localpay.ledger.signatures import sign_command
from localpay.services.cities.inspect import wallet_view
from localpay.sim.demo import DEMO_PASSWORD
from localpay.testing.browser import PHONE, Site, horizontal_overflow, serious_violations
from localpay.testing.journeys import credit as credit_in
from localpay.testing.journeys import sign_up as sign_up_in

pytestmark = pytest.mark.slow

CITY = "gimpo"
WALLET_ID = re.compile(r"^w-[0-9a-hjkmnp-tv-z]{10}$")


def credit(site: Site, wallet: str, program: str, amount: int) -> None:
    credit_in(site, CITY, wallet, program, amount)


def sign_up(page: Page) -> tuple[str, str]:
    return sign_up_in(page, CITY)


# -- the citizen's side, in the browser ------------------------------------------------------


@pytest.fixture
def fresh(browser: Browser, site: Site) -> Iterator[Callable[[], Page]]:
    """New browser contexts (no cookies, no storage) on demand, closed afterwards."""
    made = []

    def new() -> Page:
        context = browser.new_context(
            viewport=PHONE,  # type: ignore[arg-type]
            locale="ko-KR",
            base_url=site.base,
        )
        context.set_default_timeout(15_000)
        made.append(context)
        return context.new_page()

    yield new
    for context in made:
        context.close()


def test_a_citizen_signs_up_gets_a_credit_signs_out_and_in_and_restores(
    page: Page, site: Site, fresh: Callable[[], Page]
) -> None:
    code, wallet = sign_up(page)
    assert WALLET_ID.match(wallet), wallet

    # The chain has the wallet, with the browser's key and no other; it is empty.
    view = wallet_view(site.container.store, CITY, wallet)
    assert (view.balance, view.card) == (0, False)
    expect(page.locator("#total-balance")).to_have_text("0원")
    expect(page.locator("#no-money")).to_be_visible()
    assert serious_violations(page) == []
    assert horizontal_overflow(page) == 0

    # The seed stayed on the device: nothing the browser sent held it.
    stored = page.evaluate("() => localStorage.getItem('localpay.wallet.gimpo')")
    assert wallet in stored

    credit(site, wallet, "youth", 50_000)
    page.reload()
    expect(page.locator("#total-balance")).to_have_text("50,000원")
    youth = page.locator('article[data-program="youth"]')
    expect(youth.locator("h3")).to_have_text("청년기본소득 (Youth dividend)")
    expect(youth.locator(".amount")).to_have_text("50,000원")
    last_day = dt.date.fromisoformat(
        wallet_view(site.container.store, CITY, wallet).lots[0].expires
    )
    expect(youth.locator(".expires")).to_contain_text(
        f"{last_day.year}년 {last_day.month}월 {last_day.day}일"
    )
    expect(youth.locator(".where")).to_contain_text("선물할 수 없음")
    expect(youth.locator(".where")).to_contain_text("구래동")  # an area by its name
    expect(page.locator("#expiring-warning")).to_have_count(0)  # 90 days: not soon

    # Welfare points last two days: a warning names the amount and the day.
    credit(site, wallet, "welfare", 30_000)
    page.reload()
    expect(page.locator("#total-balance")).to_have_text("80,000원")
    welfare = [
        lot
        for lot in wallet_view(site.container.store, CITY, wallet).lots
        if lot.program == "welfare"
    ]
    soon = dt.date.fromisoformat(welfare[0].expires)
    in_words = f"{soon.year}년 {soon.month}월 {soon.day}일"
    expect(page.locator("#expiring-warning")).to_contain_text("30,000원")
    expect(page.locator("#expiring-warning")).to_contain_text(in_words)
    card = page.locator('article[data-program="welfare"] .expiring')
    expect(card).to_contain_text("30,000원")
    for name, path in (("결제하기", "pay"), ("내역 보기", "history"), ("선물하기", "gift")):
        link = page.get_by_role("link", name=name, exact=True)
        assert link.get_attribute("href") == f"/c/{CITY}/wallet/{path}"
        assert link.bounding_box()["height"] >= 44  # type: ignore[index]
    assert serious_violations(page) == []

    # Signing out keeps the key on the device; signing back in is the key challenge.
    page.get_by_role("button", name="로그아웃").click()
    page.goto(f"/c/{CITY}/wallet/")
    expect(page.locator("#device-wallet-id")).to_have_text(wallet)
    assert serious_violations(page) == []
    page.get_by_role("button", name="이 기기로 로그인").click()
    page.wait_for_url(f"**/c/{CITY}/wallet/")
    expect(page.locator("#total-balance")).to_have_text("80,000원")

    # A fresh browser restores the wallet from the recovery code alone.
    other = fresh()
    other.goto(f"/c/{CITY}/wallet/")
    expect(other.locator("#no-wallet")).to_be_visible()
    other.get_by_role("link", name="복구 코드로 되찾기").click()
    field = other.get_by_label("복구 코드")
    field.fill(code.replace(" ", "")[:-1] + ("A" if code[-1] != "A" else "B"))
    other.get_by_role("button", name="되찾고 로그인").click()
    expect(other.locator("#restore-error")).to_contain_text("잘못")
    assert serious_violations(other) == []
    field.fill(code.lower())
    other.get_by_role("button", name="되찾고 로그인").click()
    other.wait_for_url(f"**/c/{CITY}/wallet/")
    expect(other.locator("#wallet-id")).to_have_text(wallet)
    expect(other.locator("#total-balance")).to_have_text("80,000원")


def test_a_lost_answer_is_retried_with_the_same_command_and_key(
    browser: Browser, site: Site
) -> None:
    """The first POST of open_wallet reaches the server but its answer is lost; "Try
    again" sends the very same bytes and Idempotency-Key, and the wallet opens once.
    Service workers are blocked: the wallet's worker claims the page, and a request it
    forwards never reaches Playwright's route."""
    context = browser.new_context(
        viewport=PHONE,  # type: ignore[arg-type]
        locale="ko-KR",
        base_url=site.base,
        service_workers="block",
    )
    context.set_default_timeout(15_000)
    try:
        _lost_answer_retried(context.new_page(), site)
    finally:
        context.close()


def _lost_answer_retried(page: Page, site: Site) -> None:
    sent: list[tuple[bytes, str]] = []

    def lose_first_answer(route: Any) -> None:
        request = route.request
        sent.append((request.post_data_buffer, request.headers["idempotency-key"]))
        if len(sent) == 1:
            route.fetch()  # the server gets it and answers...
            route.abort("connectionreset")  # ...but the answer never arrives
        else:
            route.continue_()

    page.route(f"**/v1/cities/{CITY}/wallets", lose_first_answer)
    page.goto(f"/c/{CITY}/wallet/signup")
    groups = page.locator("#recovery-code li .g").all_inner_texts()
    page.get_by_role("button", name="적어 두었습니다").click()
    label = page.locator("#check-label").inner_text()
    page.get_by_label(label).fill(groups[int(re.search(r"\d+", label).group()) - 1])  # type: ignore[union-attr]
    page.get_by_role("button", name="확인", exact=True).click()
    expect(page.locator("#open-error")).to_contain_text("다시 시도")
    page.get_by_role("button", name="다시 시도").click()
    page.wait_for_url(f"**/c/{CITY}/wallet/")
    assert len(sent) == 2 and sent[0] == sent[1]
    wallet = page.locator("#wallet-id").inner_text()
    assert wallet_view(site.container.store, CITY, wallet).balance == 0


def test_the_wallet_home_is_for_its_citizen_only(
    page: Page, site: Site, fresh: Callable[[], Page]
) -> None:
    """Signed in as a citizen of one city, another city's wallet is a 404; staff too."""
    sign_up(page)
    assert page.goto("/c/yangju/wallet/").status == 404  # type: ignore[union-attr]
    staff_page = fresh()
    staff_page.goto(f"/c/{CITY}/login")
    staff_page.get_by_label(re.compile("아이디")).fill("auditor")
    staff_page.get_by_label(re.compile("^비밀번호")).fill(DEMO_PASSWORD)
    staff_page.get_by_role("button", name=re.compile("^로그인$")).click()
    staff_page.wait_for_load_state()
    assert staff_page.goto(f"/c/{CITY}/wallet/").status == 404  # type: ignore[union-attr]


def test_senior_mode_shows_balance_cards_and_four_big_buttons(page: Page, site: Site) -> None:
    sign_up(page)
    page.get_by_role("button", name=re.compile("큰 글씨")).click()
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_class(re.compile("senior"))
    expect(page.locator("#wallet-id")).to_be_hidden()
    expect(page.locator("#total-balance")).to_be_visible()
    actions = page.locator(".wallet-actions a")
    expect(actions).to_have_count(4)  # pay, charge, history, notices: no gift, no lists
    names = [" ".join(link.inner_text().split()) for link in actions.all()]
    assert [n.split()[0] for n in names] == ["결제하기", "충전하기", "내역", "알림"], names
    for link in actions.all():
        assert link.bounding_box()["height"] >= 44  # type: ignore[index]
    assert serious_violations(page) == []
    assert horizontal_overflow(page) == 0


CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def wallet_id_of(public_key: bytes) -> str:
    """keys.js's walletIdFor: "w-" and the key's first 50 bits in Crockford base32."""
    bits = int.from_bytes(public_key[:7], "big") >> (56 - 50)
    return "w-" + "".join(CROCKFORD[(bits >> (5 * (9 - i))) & 31] for i in range(10))


def test_a_wallet_number_already_taken_is_said_in_plain_words(page: Page, site: Site) -> None:
    """The browser's seed is fixed (as if chance gave it), and someone else already opened
    a wallet of that number with another key: sign-up says so and keeps no key."""
    seed = bytes(range(100, 132))
    taken = wallet_id_of(bytes(nacl.signing.SigningKey(seed).verify_key))
    other = nacl.signing.SigningKey(bytes(32))
    opened = c.OpenWallet(
        id=uuid.uuid4().hex,
        city=CITY,
        wallet=taken,
        keys=[bytes(other.verify_key).hex()],
        custodial=False,
    )
    with httpx.Client(base_url=site.base, timeout=30) as client:
        r = client.post(
            f"/v1/cities/{CITY}/wallets",
            content=sign_command(opened, [other]),
            headers={"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"},
        )
        assert r.status_code == 201, r.text
    page.add_init_script(
        f"""(() => {{
          const fill = crypto.getRandomValues.bind(crypto);
          crypto.getRandomValues = (array) => {{
            if (array instanceof Uint8Array && array.length === 32) {{
              array.set({list(seed)});
              return array;
            }}
            return fill(array);
          }};
        }})();"""
    )
    page.goto(f"/c/{CITY}/wallet/signup")
    groups = page.locator("#recovery-code li .g").all_inner_texts()
    page.get_by_role("button", name="적어 두었습니다").click()
    label = page.locator("#check-label").inner_text()
    asked = int(re.search(r"\d+", label).group())  # type: ignore[union-attr]
    page.get_by_label(label).fill(groups[asked - 1])
    page.get_by_role("button", name="확인", exact=True).click()
    expect(page.locator("#open-error")).to_contain_text("이 번호의 지갑이 이미 있습니다")
    expect(page.get_by_role("link", name="새 열쇠로 처음부터 다시 하기")).to_be_visible()
    assert page.evaluate("() => localStorage.getItem('localpay.wallet.gimpo')") is None
    # The other key's wallet is untouched.
    assert wallet_view(site.container.store, CITY, taken).balance == 0

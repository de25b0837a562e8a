"""The shop's counter screen in a real browser against a real server: a wallet's payment
appears live with its large amount, a refund from the counter reaches the wallet, only
the owner pays out, and no screen or stream ever shows another merchant's payments."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from playwright.sync_api import Page, expect

from localpay.services.cities.inspect import merchant_view, wallet_view
from localpay.sim.demo import DEMO_PASSWORD
from localpay.testing.browser import Site, horizontal_overflow, serious_violations, sign_in
from localpay.testing.servers import pay_over_http

pytestmark = pytest.mark.slow

SCREEN = "/c/gimpo/counter/m-00000/"


def pay(site: Site, amount: int, merchant: str = "m-00000", wallet: str = "w-0000001") -> str:
    """A payment signed with the demo wallet's key, as the wallet app sends it; its id."""
    return str(pay_over_http(site.base, site.keys, amount, merchant, wallet)["id"])


def wallet_balance(site: Site, wallet: str = "w-0000001") -> int:
    return wallet_view(site.container.store, "gimpo", wallet).balance


def merchant_balance(site: Site, merchant: str = "m-00000") -> int:
    return merchant_view(site.container.store, "gimpo", merchant).balance


@contextmanager
def staff_client(site: Site, username: str) -> Iterator[httpx.Client]:
    """An HTTP client signed in through the staff sign-in form, with its CSRF token."""
    with httpx.Client(base_url=site.base, timeout=30) as client:
        client.get("/c/gimpo/login")
        answer = client.post(
            "/c/gimpo/login",
            data={
                "csrf": client.cookies["localpay_csrf"],
                "username": username,
                "password": DEMO_PASSWORD,
            },
        )
        assert answer.status_code == 303, answer.text
        yield client


def open_screen(page: Page, username: str = "owner") -> None:
    sign_in(page, "gimpo", username)
    assert page.url.endswith(SCREEN)
    expect(page.locator("#live")).to_have_attribute("data-state", "open")


def test_a_payment_appears_live_with_its_large_amount(page: Page, site: Site) -> None:
    open_screen(page)
    before = int(page.locator("#sales-count").inner_text())
    page.evaluate("() => { window.notReloaded = true; }")
    pay(site, 12_345)
    flash = page.locator("#flash")
    expect(flash).to_be_visible()
    expect(flash.locator(".flash-amount")).to_have_text("12,345원")
    assert (
        float(
            flash.locator(".flash-amount").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
        )
        >= 40
    )
    expect(page.locator("#rows > li").first).to_contain_text("12,345원")
    expect(page.locator("#sales-count")).to_have_text(str(before + 1))
    assert page.evaluate("() => window.notReloaded") is True  # live, not reloaded
    expect(flash).to_be_hidden(timeout=10_000)  # for a few seconds only


def test_a_payment_to_another_shop_never_shows(page: Page, site: Site) -> None:
    open_screen(page)
    pay(site, 7_771, merchant="m-00001")
    pay(site, 7_772)
    expect(page.locator("#rows > li").first).to_contain_text("7,772원")
    assert "7,771" not in page.locator("main").inner_text()


def test_the_sound_can_be_muted_and_is_remembered(page: Page) -> None:
    open_screen(page)
    button = page.locator("#sound")
    expect(button).to_have_attribute("aria-pressed", "true")
    button.click()
    expect(button).to_have_attribute("aria-pressed", "false")
    page.reload()
    expect(page.locator("#sound")).to_have_attribute("aria-pressed", "false")


def test_a_refund_from_the_counter_reaches_the_wallet(page: Page, site: Site) -> None:
    payment = pay(site, 5_000)
    open_screen(page, "cashier")  # a cashier refunds too
    wallet_before, shop_before = wallet_balance(site), merchant_balance(site)
    page.locator(f"a[href$='/payments/{payment}/refund']").click()
    amount = page.get_by_label(re.compile("환불할 금액"))
    expect(amount).to_have_value("5000")  # the whole payment by default
    amount.fill("2000")
    page.get_by_role("button", name=re.compile("다음")).click()
    expect(page.get_by_role("heading", name=re.compile("2,000원"))).to_be_visible()
    page.get_by_role("button", name=re.compile("2,000원 환불")).click()
    expect(page.locator("#refund-done")).to_contain_text("2,000원")
    assert page.url.startswith(f"{site.base}{SCREEN}")
    assert wallet_balance(site) == wallet_before + 2_000
    assert merchant_balance(site) == shop_before - 2_000
    # More than is left is refused in plain words, and changes nothing.
    page.goto(f"{SCREEN}payments/{payment}/refund")
    expect(page.locator("#left")).to_have_text("3,000원")
    page.get_by_label(re.compile("환불할 금액")).fill("4000")
    page.get_by_role("button", name=re.compile("다음")).click()
    expect(page.get_by_role("alert")).to_contain_text("남은 금액보다 많습니다")
    assert wallet_balance(site) == wallet_before + 2_000


def test_a_refund_by_keyboard_alone(page: Page, site: Site) -> None:
    payment = pay(site, 2_500)
    open_screen(page, "cashier")
    before = wallet_balance(site)
    link = f"a[href$='/payments/{payment}/refund']"
    for _ in range(60):  # Tab to the payment's refund button, as a keyboard user would
        page.keyboard.press("Tab")
        if page.evaluate(f'() => document.activeElement.matches("{link}")'):
            break
    else:
        pytest.fail("the refund button cannot be reached with Tab")
    page.keyboard.press("Enter")
    page.get_by_label(re.compile("환불할 금액")).focus()
    page.keyboard.press("Enter")  # submits the form with the whole amount
    page.locator("#refund-confirm").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#refund-done")).to_contain_text("2,500원")
    assert wallet_balance(site) == before + 2_500


def test_a_refund_form_sent_twice_refunds_once(site: Site) -> None:
    payment = pay(site, 3_000)
    before = wallet_balance(site)
    with staff_client(site, "owner") as client:
        form = {
            "csrf": client.cookies["localpay_csrf"],
            "idempotency_key": str(uuid.uuid4()),
            "amount": "3000",
            "confirm": "yes",
        }
        for _ in range(2):
            answer = client.post(f"{SCREEN}payments/{payment}/refund", data=form)
            assert answer.status_code == 303, (answer.status_code, answer.text[-3000:])
        assert wallet_balance(site) == before + 3_000
        again = client.post(
            f"{SCREEN}payments/{payment}/refund",
            data={**form, "idempotency_key": str(uuid.uuid4())},
        )
        assert again.status_code == 409
        assert "이미 전액 환불" in again.text
    assert wallet_balance(site) == before + 3_000


def test_a_cashier_sees_no_payout_and_cannot_forge_one(page: Page, site: Site) -> None:
    open_screen(page, "cashier")
    expect(page.get_by_role("link", name="정산 출금")).to_have_count(0)
    before = merchant_balance(site)
    with staff_client(site, "cashier") as client:
        assert client.get(f"{SCREEN}payouts").status_code == 404
        forged = client.post(
            f"{SCREEN}payouts",
            data={
                "csrf": client.cookies["localpay_csrf"],
                "idempotency_key": str(uuid.uuid4()),
                "amount": "1000",
                "confirm": "yes",
            },
        )
        assert forged.status_code == 404
    assert merchant_balance(site) == before


def test_the_old_payouts_address_sends_the_owner_to_the_payouts_to_the_bank(
    page: Page, site: Site
) -> None:
    """One payouts entry: to the bank (test_settle_pages pays out there); the old page,
    a Redeem with no won leaving the trust account, only redirects its owner there."""
    pay(site, 2_000)
    with staff_client(site, "owner") as client:
        moved = client.get(f"{SCREEN}payouts", follow_redirects=False)
        assert moved.status_code == 303, moved.text
        assert moved.headers["location"] == "/c/gimpo/counter/payouts"
        before = merchant_balance(site)
        posted = client.post(f"{SCREEN}payouts", data={"amount": "1000", "confirm": "yes"})
        assert posted.status_code == 303  # a redirect, no payout
        assert posted.headers["location"] == "/c/gimpo/counter/payouts"
        assert merchant_balance(site) == before
    open_screen(page)
    link = page.get_by_role("link", name="정산 출금")
    expect(link).to_have_count(1)
    link.click()
    expect(page).to_have_url(re.compile("/c/gimpo/counter/payouts$"))
    expect(page.locator("#payout-amount")).to_have_value(str(merchant_balance(site)))


def test_another_merchants_counter_is_a_404(site: Site) -> None:
    with staff_client(site, "owner") as client:
        assert (
            client.get("/c/gimpo/counter/", follow_redirects=False)
            .headers["location"]
            .endswith(SCREEN)
        )
        for path in (
            "/c/gimpo/counter/m-00001/",
            "/c/gimpo/counter/m-00001/events",
            "/c/gimpo/counter/m-00001/sales",
            "/c/gimpo/counter/m-00001/payouts",
            "/c/yangju/counter/m-00000/",
        ):
            answer = client.get(path)
            assert answer.status_code == 404, path
            assert "없는 화면입니다" in answer.text
    with httpx.Client(base_url=site.base) as nobody:
        assert nobody.get(SCREEN).status_code == 303  # to the sign-in page


def _read_events(stream: httpx.Response, wanted: int) -> list[dict[str, str]]:
    """Events (fields by name) from an open SSE stream until `wanted` payment events."""
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in stream.iter_lines():
        if not line:
            if current.get("event") == "payment":
                events.append(current)
                if len(events) == wanted:
                    return events
            current = {}
            continue
        name, _, value = line.partition(":")
        if name:
            current[name] = current.get(name, "") + value.strip()
    return events


def test_the_stream_carries_this_merchants_payments_only(site: Site) -> None:
    with (
        staff_client(site, "owner") as client,
        client.stream("GET", f"{SCREEN}events") as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        pay(site, 6_661, merchant="m-00001")
        pay(site, 6_662)
        first = _read_events(stream, 1)[0]
    assert "6,662원" in first["data"]
    assert "6,661" not in first["data"]
    seq = int(first["id"])
    # A screen that reconnects gets what it missed since its Last-Event-ID, and only ours.
    pay(site, 6_663, merchant="m-00001")
    pay(site, 6_664)
    with (
        staff_client(site, "owner") as client,
        client.stream("GET", f"{SCREEN}events", headers={"Last-Event-ID": str(seq)}) as stream,
    ):
        missed = _read_events(stream, 1)[0]
    assert "6,664원" in missed["data"] and int(missed["id"]) > seq
    assert "6,663" not in missed["data"]


@pytest.mark.parametrize("senior", [False, True])
@pytest.mark.parametrize("lang", ["ko", "en"])
def test_counter_pages_are_accessible(page: Page, site: Site, senior: bool, lang: str) -> None:
    payment = pay(site, 1_000)
    sign_in(page, "gimpo", "owner")
    page.context.add_cookies(
        [
            {"name": "localpay_senior", "value": "1" if senior else "0", "url": site.base},
            {"name": "localpay_lang", "value": lang, "url": site.base},
        ]
    )
    page.set_viewport_size({"width": 360, "height": 800})
    for path in (SCREEN, f"{SCREEN}payments/{payment}/refund", "/c/gimpo/counter/payouts"):
        page.goto(path)
        assert page.locator("html").get_attribute("lang") == lang
        assert serious_violations(page) == [], path
        assert horizontal_overflow(page) == 0, path


def test_a_stream_ends_when_its_session_does(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    from localpay.entrypoints.web.routes import counter as route  # noqa: PLC0415

    monkeypatch.setattr(route, "SESSION_CHECK_S", 0.3)  # the server runs in this process
    with staff_client(site, "owner") as client:
        session = client.cookies["localpay_session"]
        # A read timeout below the server's 15 s pings: a stream left open fails the test.
        with client.stream("GET", f"{SCREEN}events", timeout=5) as stream:
            site.container.identity.logout(session)
            began = time.monotonic()
            lines = list(stream.iter_lines())  # returns once the server ends the stream
        assert time.monotonic() - began < 10
        assert not any(line.startswith("event: payment") for line in lines)
        assert client.get(f"{SCREEN}events", follow_redirects=False).status_code == 303


def test_the_screen_says_so_when_its_live_stream_is_lost(
    page: Page, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A counter that silently stopped updating would have staff trust a stale list: when
    the stream ends (here: the session was ended elsewhere) the screen says so at once."""
    from localpay.entrypoints.web.routes import counter as route  # noqa: PLC0415

    monkeypatch.setattr(route, "SESSION_CHECK_S", 0.3)  # the server runs in this process
    open_screen(page)
    lost = page.locator("#live-lost")
    expect(lost).to_be_hidden()
    session = next(c for c in page.context.cookies() if c["name"] == "localpay_session")
    site.container.identity.logout(session["value"])
    expect(lost).to_be_visible(timeout=10_000)
    expect(lost).to_contain_text("실시간 연결이 끊겼습니다")
    expect(page.locator("#live")).to_have_attribute("data-state", "closed")

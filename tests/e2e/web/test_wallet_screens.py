"""The wallet's own screens in both modes and both languages: no serious or critical
axe-core violation (target-size on), no horizontal scroll at 360 px nor at 200 % zoom,
44 px targets on the balance screen, and the whole sign-up done with the keyboard only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from localpay.testing.browser import (
    Site,
    citizen_cookie,
    horizontal_overflow,
    serious_violations,
)

pytestmark = pytest.mark.slow

CITY = "gimpo"
APP = f"/c/{CITY}/wallet/"
#: (path, signed in as w-0000001, what must be on it once its scripts ran)
SCREENS = [
    pytest.param(APP, False, "#no-wallet", id="sign-in"),
    pytest.param(f"{APP}signup", False, "#recovery-code li", id="sign-up"),
    pytest.param(f"{APP}restore", False, "#code", id="restore"),
    pytest.param(f"{APP}offline", False, "#offline-message", id="offline"),
    pytest.param(APP, True, ".program-card", id="home"),
]
MODES = [
    pytest.param("ko", False, id="ko"),
    pytest.param("en", False, id="en"),
    pytest.param("ko", True, id="ko-senior"),
    pytest.param("en", True, id="en-senior"),
]


@pytest.fixture
def opened(browser: Browser, site: Site) -> Iterator[Any]:
    contexts: list[BrowserContext] = []

    def open_(path: str, signed_in: bool, ready: str, lang: str, senior: bool, width: int) -> Page:
        context = browser.new_context(
            base_url=site.base, locale="ko-KR", viewport={"width": width, "height": 740}
        )
        contexts.append(context)
        cookies = [
            {"name": "localpay_lang", "value": lang, "url": site.base},
            {"name": "localpay_senior", "value": "1" if senior else "0", "url": site.base},
        ]
        if signed_in:
            cookies.append(citizen_cookie(site, CITY, "w-0000001"))
        context.add_cookies(cookies)  # type: ignore[arg-type]
        page = context.new_page()
        page.goto(path)
        expect(page.locator(ready).first).to_be_visible()
        return page

    yield open_
    for context in contexts:
        context.close()


@pytest.mark.parametrize(("path", "signed_in", "ready"), SCREENS)
@pytest.mark.parametrize(("lang", "senior"), MODES)
def test_no_serious_violations(
    opened: Any, path: str, signed_in: bool, ready: str, lang: str, senior: bool
) -> None:
    page = opened(path, signed_in, ready, lang, senior, 390)
    assert page.locator("html").get_attribute("lang") == lang
    assert serious_violations(page) == []


@pytest.mark.parametrize(("path", "signed_in", "ready"), SCREENS)
@pytest.mark.parametrize("senior", [False, True], ids=["normal", "senior"])
@pytest.mark.parametrize("width", [360, 180], ids=["360px", "360px-at-200%"])
def test_no_horizontal_scroll(
    opened: Any, path: str, signed_in: bool, ready: str, senior: bool, width: int
) -> None:
    page = opened(path, signed_in, ready, "ko", senior, width)
    assert horizontal_overflow(page) == 0


@pytest.mark.parametrize("senior", [False, True], ids=["normal", "senior"])
def test_the_balance_screen_has_44_px_targets(opened: Any, senior: bool) -> None:
    page = opened(APP, True, ".program-card", "ko", senior, 360)
    small = page.evaluate(
        """() => [...document.querySelectorAll("main a, main button, main input")]
          .filter(e => e.offsetParent !== null)
          .map(e => [e.textContent.trim(), e.getBoundingClientRect().height,
                     e.getBoundingClientRect().width])
          .filter(([, h, w]) => h < 44 || w < 44)"""
    )
    assert small == []


def test_the_english_home_speaks_english(opened: Any) -> None:
    page = opened(APP, True, ".program-card", "en", False, 390)
    expect(page.get_by_role("link", name="Pay a shop")).to_be_visible()
    expect(page.locator("#total-balance")).to_have_text(re.compile(r"^₩[\d,]+$"))


def test_sign_up_with_the_keyboard_only(opened: Any) -> None:
    page = opened(f"{APP}signup", False, "#recovery-code li", "ko", False, 390)
    groups = page.locator("#recovery-code li .g").all_inner_texts()

    def tab_to(selector: str) -> None:
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate(f"() => document.activeElement.matches({selector!r})"):
                return
        raise AssertionError(f"Tab never reached {selector}")

    tab_to("#wrote-it")
    page.keyboard.press("Enter")
    # The check step takes the focus itself, on its one field.
    assert page.evaluate("() => document.activeElement.id") == "check-group"
    label = page.locator("#check-label").inner_text()
    asked = int(re.search(r"\d+", label).group())  # type: ignore[union-attr]
    page.keyboard.type(groups[asked - 1])
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{APP}")
    expect(page.locator("#total-balance")).to_have_text("0원")

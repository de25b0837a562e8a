"""Every page, in both modes and both languages, in a real browser: no serious or critical
axe-core violation (WCAG 2.2 AA rules and target-size on), `lang` set, and no horizontal
scroll at 360 px nor at 360 px with 200 % zoom (a 180 CSS px wide window)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser

from localpay.testing.browser import (
    Site,
    citizen_cookie,
    horizontal_overflow,
    serious_violations,
    staff_cookie,
)

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Screen:
    path: str
    who: Callable[[Site], dict[str, Any]] | None = None

    def __str__(self) -> str:
        return self.path


def _owner(site: Site) -> dict[str, Any]:
    return staff_cookie(site, "gimpo", "owner")


def _citizen(site: Site) -> dict[str, Any]:
    return citizen_cookie(site, "gimpo", "w-0000001")


SCREENS = [
    Screen("/"),
    Screen("/c/gimpo/"),
    Screen("/c/gimpo/login"),
    Screen("/c/nowhere/"),
    Screen("/c/gimpo/wallet/code", _citizen),  # the customer's one-time code
    Screen("/c/gimpo/counter/code", _owner),  # the counter's capture of it
]
MODES = [
    pytest.param("ko", False, id="ko"),
    pytest.param("en", False, id="en"),
    pytest.param("ko", True, id="ko-senior"),
    pytest.param("en", True, id="en-senior"),
]


def _open(browser: Browser, site: Site, screen: Screen, lang: str, senior: bool, **size: Any):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=site.base, locale="ko-KR", **size)
    cookies = [
        {"name": "localpay_lang", "value": lang, "url": site.base},
        {"name": "localpay_senior", "value": "1" if senior else "0", "url": site.base},
    ]
    if screen.who is not None:
        cookies.append(screen.who(site))
    context.add_cookies(cookies)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(screen.path)
    page.wait_for_load_state("networkidle")
    return context, page


@pytest.mark.parametrize("screen", SCREENS, ids=str)
@pytest.mark.parametrize(("lang", "senior"), MODES)
def test_no_serious_violations(
    browser: Browser, site: Site, screen: Screen, lang: str, senior: bool
) -> None:
    context, page = _open(
        browser, site, screen, lang, senior, viewport={"width": 390, "height": 844}
    )
    try:
        assert page.locator("html").get_attribute("lang") == lang
        assert serious_violations(page) == []
    finally:
        context.close()


@pytest.mark.parametrize("screen", SCREENS, ids=str)
@pytest.mark.parametrize("senior", [False, True], ids=["normal", "senior"])
@pytest.mark.parametrize("width", [360, 180], ids=["360px", "360px-at-200%"])
def test_no_horizontal_scroll(
    browser: Browser, site: Site, screen: Screen, senior: bool, width: int
) -> None:
    context, page = _open(
        browser, site, screen, "ko", senior, viewport={"width": width, "height": 740}
    )
    try:
        assert horizontal_overflow(page) == 0
    finally:
        context.close()

"""The counter's QR code page in a real browser: the shop's code on screen decodes to a code
the city signed, the PNG, SVG and A5 sticker downloads work (by keyboard too), the page fits a
phone at 200 % zoom with no serious accessibility violation in both languages and in senior
mode, and another shop's or city's page is the 404 page."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdfium2  # type: ignore[import-untyped]
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page

from localpay.testing.browser import (
    PHONE,
    Site,
    chromium,
    horizontal_overflow,
    serious_violations,
    sign_in,
    staff_cookie,
)
from localpay.testing.servers import live_container, seed

pytestmark = pytest.mark.slow

CITY = "gimpo"
SHOP = "m-00000"
QR_PAGE = f"/c/{CITY}/counter/{SHOP}/qr"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as found:
        yield found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("qrpage")
    url, keys = f"sqlite:///{root / 'site.db'}", root / "keys"
    seed(url, keys)
    with live_container(url, keys) as (base, container, _):
        yield Site(base, container, keys)


def _context(browser: Browser, site: Site, **options: Any) -> BrowserContext:
    context = browser.new_context(
        viewport=options.pop("viewport", PHONE), locale="ko-KR", base_url=site.base,
        accept_downloads=True, **options,
    )  # fmt: skip
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    context = _context(browser, site)
    yield context.new_page()
    context.close()


def _verified(site: Site, text: str) -> None:
    reading = site.container.merchant_qrs.read(CITY, text)
    assert reading.verified, reading.reason
    assert reading.qr is not None and reading.qr.merchant == SHOP


def _decode(data: bytes) -> str:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(data)))
    assert len(found) == 1
    return str(found[0].text)


def test_the_cashier_finds_the_code_and_it_verifies(page: Page, site: Site) -> None:
    sign_in(page, CITY, "cashier")
    page.goto(f"/c/{CITY}/counter/{SHOP}/")
    page.get_by_role("link", name="QR 코드", exact=True).click()
    page.wait_for_url(f"**{QR_PAGE}")
    assert page.get_by_role("heading", level=1).inner_text() == "QR 코드"
    image = page.locator("#shop-qr")
    assert image.is_visible()
    assert page.evaluate("() => document.querySelector('#shop-qr').naturalWidth") > 300
    assert re.fullmatch(r".+에 결제하는 QR 코드", image.get_attribute("alt") or "")
    shown = page.request.get(image.get_attribute("src") or "")
    assert shown.ok and shown.headers["content-type"] == "image/png"
    _verified(site, _decode(shown.body()))
    # The short address sends staff to their own shop's page.
    page.goto(f"/c/{CITY}/counter/qr")
    page.wait_for_url(f"**{QR_PAGE}")


def test_the_downloads_work(page: Page, site: Site, tmp_path: Path) -> None:
    sign_in(page, CITY, "owner")
    page.goto(QR_PAGE)
    saved: dict[str, bytes] = {}
    for link, name in (("#qr-png", "PNG로 내려받기"), ("#qr-svg", "SVG로 내려받기")):
        assert page.locator(link).inner_text() == name
        with page.expect_download() as info:
            page.locator(link).click()
        download = info.value
        assert download.suggested_filename == f"qr-{CITY}-{SHOP}.{link[-3:]}"
        saved[link] = Path(download.path()).read_bytes()
    text = _decode(saved["#qr-png"])
    _verified(site, text)
    assert saved["#qr-svg"].startswith(b"<svg")
    # The sticker, by keyboard: Tab to its link and press Enter.
    sticker = page.get_by_role("link", name="A5 스티커 인쇄 (PDF)")
    for _ in range(40):
        page.keyboard.press("Tab")
        if sticker.evaluate("link => link === document.activeElement"):
            break
    else:
        pytest.fail("the sticker link is not reachable by Tab")
    with page.expect_download() as info:
        page.keyboard.press("Enter")
    pdf = pypdfium2.PdfDocument(Path(info.value.path()).read_bytes())
    found = zxingcpp.read_barcodes(pdf[0].render(scale=2).to_pil())
    assert [code.text for code in found] == [text]


@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("senior", [False, True], ids=["normal", "senior"])
def test_fits_a_phone_and_passes_axe(browser: Browser, site: Site, lang: str, senior: bool) -> None:
    for width in (360, 180):  # 360 px, and 360 px at 200 % zoom
        context = _context(browser, site, viewport={"width": width, "height": 740})
        cookies = [
            staff_cookie(site, CITY, "owner"),
            {"name": "localpay_lang", "value": lang, "url": site.base},
            {"name": "localpay_senior", "value": "1" if senior else "0", "url": site.base},
        ]
        context.add_cookies(cookies)  # type: ignore[arg-type]
        page = context.new_page()
        page.goto(QR_PAGE)
        page.wait_for_load_state("networkidle")
        assert page.locator("html").get_attribute("lang") == lang
        assert horizontal_overflow(page) == 0
        assert serious_violations(page) == []
        # Senior mode: the sticker and the PNG only, in big buttons.
        assert page.locator("#qr-svg").is_visible() is (not senior)
        for link in ("#qr-pdf", "#qr-png"):
            box = page.locator(link).bounding_box()
            assert box is not None and box["height"] >= 44
        if lang == "en":
            assert page.get_by_role("link", name="Print the A5 sticker (PDF)").is_visible()
        context.close()


def test_another_shop_or_city_is_the_404_page(browser: Browser, site: Site) -> None:
    context = _context(browser, site)
    context.add_cookies([staff_cookie(site, CITY, "owner")])  # type: ignore[list-item]
    page = context.new_page()
    for path in (
        f"/c/{CITY}/counter/m-00001/qr",
        f"/c/{CITY}/counter/m-00001/qr.png",
        f"/c/yangju/counter/{SHOP}/qr",
        f"/c/{CITY}/counter/{SHOP}/qr.gif",
    ):
        answer = page.goto(path)
        assert answer is not None and answer.status == 404, path
    context.close()

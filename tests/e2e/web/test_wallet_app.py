"""The wallet as an installable app, in a real browser: its manifest and icons, a service
worker that registers on the wallet's own scope and keeps the shell, and never a balance:
offline, the wallet's page is the offline page, with no amount on it."""

from __future__ import annotations

import json
import re
import struct

import httpx
import pytest
from playwright.sync_api import Page, expect

from localpay.testing.browser import Site, citizen_cookie

pytestmark = pytest.mark.slow

CITY = "gimpo"
SCOPE = f"/c/{CITY}/wallet/"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_manifest_makes_the_wallet_installable(site: Site) -> None:
    with httpx.Client(base_url=site.base, timeout=30) as client:
        r = client.get(f"{SCOPE}manifest.webmanifest")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/manifest+json")
        manifest = r.json()
        assert manifest["name"] == "지역화폐 지갑"
        assert (manifest["start_url"], manifest["scope"]) == (SCOPE, SCOPE)
        assert manifest["display"] == "standalone"
        sizes = {}
        for icon in manifest["icons"]:
            got = client.get(icon["src"])
            assert got.status_code == 200, icon
            assert got.headers["content-type"].startswith(icon["type"])
            if icon["type"] == "image/png":
                sizes[icon["sizes"]] = png_size(got.content)
        assert sizes == {"192x192": (192, 192), "512x512": (512, 512)}
        assert client.get("/c/nowhere/wallet/manifest.webmanifest").status_code == 404
        worker = client.get(f"{SCOPE}sw.js")
        assert worker.headers["content-type"].startswith("text/javascript")
        assert "Service-Worker-Allowed" not in worker.headers


def test_the_worker_names_a_versioned_shell_that_exists(site: Site) -> None:
    with httpx.Client(base_url=site.base, timeout=30) as client:
        source = client.get(f"{SCOPE}sw.js").text
        version = re.search(r'^const VERSION = "([0-9a-f]{16})";$', source, re.M)
        shell = re.search(r"^const SHELL = (\[.*\]);$", source, re.M)
        assert version and shell, source[:300]
        files = json.loads(shell.group(1))
        assert "/static/js/wallet/keys.js" in files and "/static/img/wallet-icon-512.png" in files
        assert all(f.startswith("/static/") for f in files)
        assert "/static/js/wallet/sw.js" not in files
        for name in files:
            assert client.get(name).status_code == 200, name


def signed_in(page: Page, site: Site) -> None:
    page.context.add_cookies([citizen_cookie(site, CITY, "w-0000001")])  # type: ignore[list-item]


def controlled(page: Page) -> str:
    """Wait until the wallet's worker is active and controls the page; its scope."""
    scope: str = page.evaluate("async () => (await navigator.serviceWorker.ready).scope")
    if not page.evaluate("() => navigator.serviceWorker.controller !== null"):
        page.reload()
    assert page.evaluate("() => navigator.serviceWorker.controller !== null")
    return scope


def cached_urls(page: Page) -> list[str]:
    found: list[str] = page.evaluate(
        """async () => {
          const urls = [];
          for (const name of await caches.keys()) {
            const cache = await caches.open(name);
            for (const request of await cache.keys()) urls.push(new URL(request.url).pathname);
          }
          return urls;
        }"""
    )
    return found


def test_the_worker_registers_on_the_wallet_scope_and_caches_only_the_shell(
    page: Page, site: Site
) -> None:
    signed_in(page, site)
    page.goto(SCOPE)
    expect(page.locator("#total-balance")).to_have_text("1,000,000원")
    assert controlled(page) == f"{site.base}{SCOPE}"
    urls = cached_urls(page)
    assert f"{SCOPE}offline" in urls
    assert "/static/js/wallet/keys.js" in urls and "/static/css/wallet.css" in urls
    # Nothing else: no page that could show a balance, no answer of the API.
    assert [u for u in urls if not u.startswith("/static/") and u != f"{SCOPE}offline"] == []
    names = page.evaluate("async () => caches.keys()")
    assert len(names) == 1 and names[0].startswith(f"localpay-wallet-{CITY}-")


BUTTON_COLOR = "() => getComputedStyle(document.querySelector('a.btn')).backgroundColor"
LOADED_SHEETS = """() => [...document.styleSheets]
  .filter(sheet => sheet.href && sheet.cssRules.length > 0)
  .map(sheet => new URL(sheet.href).pathname)"""


def test_offline_the_wallet_shows_the_offline_page_and_no_amount(page: Page, site: Site) -> None:
    signed_in(page, site)
    page.goto(SCOPE)
    expect(page.locator("#total-balance")).to_have_text("1,000,000원")
    controlled(page)
    online_color = page.evaluate(BUTTON_COLOR)
    page.context.set_offline(True)
    try:
        page.reload()
        expect(page.locator("#offline-message")).to_contain_text("잔액은 연결되어 있을 때만")
        main = page.locator("main").inner_text()
        assert "원" not in main and "1,000,000" not in main
        assert page.locator("#total-balance").count() == 0
        # The shell still comes from the cache: the page is styled and its scripts load.
        assert page.evaluate(BUTTON_COLOR) == online_color
        assert page.evaluate(LOADED_SHEETS) == [
            "/static/vendor/pico/pico.min.css",
            "/static/css/localpay.css",
            "/static/css/wallet.css",
        ]
        # The API is never answered from a cache either.
        status = page.evaluate(
            f"""async () => {{
              try {{ return (await fetch("/v1/cities/{CITY}/wallets/w-0000001")).status; }}
              catch {{ return "network error"; }}
            }}"""
        )
        assert status == "network error"
    finally:
        page.context.set_offline(False)
    page.reload()
    expect(page.locator("#total-balance")).to_have_text("1,000,000원")

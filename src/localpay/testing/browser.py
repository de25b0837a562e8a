"""A real browser for the page tests: Debian's Chromium driven by Playwright.

Playwright's own browser download cannot work here (no network but the registries), so
the browser is the system's /usr/bin/chromium (`make test` installs it with apt). The
flags keep Chromium from reaching out to the network it does not have.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from playwright.sync_api import Browser, Page, sync_playwright

from localpay.bootstrap import Container
from localpay.sim.demo import DEMO_PASSWORD

CHROMIUM: Final = os.environ.get("LOCALPAY_CHROMIUM", "/usr/bin/chromium")
ARGS: Final = (
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
#: A phone, the size most citizens hold (the 360 px check is its own test).
PHONE: Final = {"width": 390, "height": 844}
#: axe-core, vendored with the pages' assets and served by the site under test.
AXE_URL: Final = "/static/vendor/axe-core/axe.min.js"


@dataclass
class Site:
    """A live server of the page tests: its base URL, container and key folder."""

    base: str
    container: Container
    keys: Path


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(ARGS))
        try:
            yield browser
        finally:
            browser.close()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of the page as it is now, WCAG 2.2 AA
    rules and `target-size` (24 px) included."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # By URL, as a file of our own: the pages' content security policy refuses an
        # inline script, which is what add_script_tag(path=...) makes.
        page.add_script_tag(url=AXE_URL)
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
          const result = await window.axe.run(document, {
            runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                             "wcag22aa", "best-practice"]},
            rules: {"target-size": {enabled: true}, "region": {enabled: false}},
          });
          return result.violations
            .filter(v => v.impact === "serious" || v.impact === "critical")
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))}));
        }"""
    )
    return found


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than its window (0: no horizontal scroll)."""
    width: int = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return width


def sign_in(page: Page, city: str, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign a member of staff in through the sign-in page, as a person would."""
    page.goto(f"/c/{city}/login")
    page.get_by_label(re.compile("아이디|User name")).fill(username)
    page.get_by_label(re.compile("^(비밀번호|Password)")).fill(password)
    page.get_by_role("button", name=re.compile("^(로그인|Sign in)$")).click()
    page.wait_for_load_state()


def staff_cookie(site: Site, city: str, username: str) -> dict[str, Any]:
    """A session cookie of a member of staff, signed in over the API (for tests that look
    at a page, not at signing in)."""
    import httpx  # noqa: PLC0415

    with httpx.Client(base_url=site.base, timeout=30) as client:
        answer = client.post(
            "/v1/auth/login",
            json={"city": city, "username": username, "password": DEMO_PASSWORD},
        )
        answer.raise_for_status()
        return _cookie(site, answer.json()["token"])


def citizen_cookie(site: Site, city: str, wallet: str) -> dict[str, Any]:
    """A session cookie of a demo citizen, signed in by the wallet key challenge."""
    import httpx  # noqa: PLC0415

    from localpay.adapters.keystore import KeyStore  # noqa: PLC0415
    from localpay.sim.demo import DEMO_SECRET, derived_key  # noqa: PLC0415

    key = derived_key(bytes(KeyStore(site.keys).load(city, DEMO_SECRET)), wallet)
    with httpx.Client(base_url=site.base, timeout=30) as client:
        challenge = client.post(f"/v1/cities/{city}/wallets/{wallet}/challenges").json()
        answer = client.post(
            f"/v1/cities/{city}/wallets/{wallet}/sessions",
            json={
                "nonce": challenge["nonce"],
                "key": bytes(key.verify_key).hex(),
                "signature": key.sign(bytes.fromhex(challenge["sign"])).signature.hex(),
            },
        )
        answer.raise_for_status()
        return _cookie(site, answer.json()["token"])


def _cookie(site: Site, token: str) -> dict[str, Any]:
    return {"name": "localpay_session", "value": token, "url": site.base, "httpOnly": True}

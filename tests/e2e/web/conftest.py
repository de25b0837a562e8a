"""Page tests in a real browser against a real server on a real socket.

`site` serves a seeded two-city store (testing/servers.seed: the demo's people, a
credited wallet w-0000001 in each city) for the whole module, its payouts through a
mock-bank process of its own (the trust accounts and the shops' accounts set up);
`page` is a fresh browser context (no cookies) on a phone-sized window, Korean by default.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from localpay.testing.browser import PHONE, Site, chromium
from localpay.testing.servers import live_container, seed

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Per module, not per session: Playwright's sync API keeps an event loop running in
    # this thread while it is open, and other tests of this worker call asyncio.run().
    with chromium() as found:
        yield found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("site")
    url, keys = f"sqlite:///{root / 'site.db'}", root / "keys"
    seed(url, keys)
    with live_container(url, keys, bank=True) as (base, container, _):
        yield Site(base, container, keys)


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, locale="ko-KR", base_url=site.base)
    context.set_default_timeout(15_000)
    found = context.new_page()
    yield found
    context.close()

"""Screenshots of the main pages for docs/screenshots/: `make screenshots`.

Seeds a demo store (a larger one than the tests', so charts and lists have something to
show), serves it on a free port, and photographs each page in Debian's Chromium at a
phone's size (and the explorer at a desk's), in Korean, and the wallet in senior mode.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("LOCALPAY_MASTER_KEY", f"v1:{secrets.token_hex(32)}")

from localpay.testing.browser import (
    PHONE,
    Site,
    chromium,
    citizen_cookie,
    staff_cookie,
)
from localpay.testing.servers import live_container, pay_over_http, seed

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
DESK = {"width": 1280, "height": 900}

Who = Callable[[Site], dict[str, Any]] | None


def _citizen(site: Site) -> dict[str, Any]:
    return citizen_cookie(site, "gimpo", "w-0000001")


def _owner(site: Site) -> dict[str, Any]:
    return staff_cookie(site, "gimpo", "owner")


def _maker(site: Site) -> dict[str, Any]:
    return staff_cookie(site, "gimpo", "maker")


#: (file name, path, who is signed in, senior mode, window)
SHOTS: list[tuple[str, str, Who, bool, dict[str, int]]] = [
    ("start", "/c/gimpo/", None, False, PHONE),
    ("wallet-home", "/c/gimpo/wallet/", _citizen, False, PHONE),
    ("wallet-home-senior", "/c/gimpo/wallet/", _citizen, True, PHONE),
    ("wallet-pay", "/c/gimpo/wallet/pay", _citizen, False, PHONE),
    ("wallet-pay-preview", "/c/gimpo/wallet/pay/m-00001?amount=12000", _citizen, False, PHONE),
    ("wallet-history", "/c/gimpo/wallet/history", _citizen, False, PHONE),
    ("wallet-gift", "/c/gimpo/wallet/gift", _citizen, False, PHONE),
    ("wallet-signup", "/c/gimpo/wallet/signup", None, False, PHONE),
    ("wallet-buy", "/c/gimpo/wallet/buy?program=general", _citizen, False, PHONE),
    ("wallet-buy-senior", "/c/gimpo/wallet/buy?program=general", _citizen, True, PHONE),
    ("wallet-purchases", "/c/gimpo/wallet/purchases", _citizen, False, PHONE),
    ("wallet-credits", "/c/gimpo/wallet/credits", _citizen, False, PHONE),
    ("wallet-notices", "/c/gimpo/wallet/notices", _citizen, False, PHONE),
    ("merchant-apply", "/c/gimpo/merchants/apply", None, False, PHONE),
    ("console", "/c/gimpo/console/", _maker, False, DESK),
    ("console-programs", "/c/gimpo/console/programs", _maker, False, DESK),
    ("console-program-new", "/c/gimpo/console/programs/new", _maker, False, DESK),
    ("console-approvals", "/c/gimpo/console/approvals", _maker, False, DESK),
    ("console-batches", "/c/gimpo/console/batches", _maker, False, DESK),
    ("console-merchants", "/c/gimpo/console/merchants", _maker, False, DESK),
    ("console-waiting", "/c/gimpo/console/waiting", _maker, False, DESK),
    ("counter", "/c/gimpo/counter/", _owner, False, PHONE),
    ("counter-payouts", "/c/gimpo/counter/m-00000/payouts", _owner, False, PHONE),
    ("explorer", "/c/gimpo/explorer/", None, False, DESK),
    ("explorer-supply", "/c/gimpo/explorer/supply", None, False, DESK),
    ("explorer-payments", "/c/gimpo/explorer/payments", None, False, DESK),
    ("explorer-receipt", "/c/gimpo/explorer/receipt", None, False, PHONE),
    ("staff-sign-in", "/c/gimpo/login", None, False, PHONE),
]


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url, keys = f"sqlite:///{tmp}/shots.db", Path(tmp) / "keys"
        seed(url, keys, citizens=150, merchants=20, days=7)
        with live_container(url, keys) as (base, container, _), chromium() as browser:
            site = Site(base, container, keys)
            for amount in (4_500, 12_000, 8_300):  # today's payments for the counter
                pay_over_http(base, keys, amount)
            for name, path, who, senior, window in SHOTS:
                context = browser.new_context(base_url=base, viewport=window, locale="ko-KR")
                cookies = [
                    {"name": "localpay_senior", "value": "1" if senior else "0", "url": base}
                ]
                if who is not None:
                    cookies.append(who(site))
                context.add_cookies(cookies)  # type: ignore[arg-type]
                page = context.new_page()
                answer = page.goto(path)
                page.wait_for_load_state("networkidle")
                if answer is None or answer.status != 200:
                    print(f"{path}: {answer.status if answer else 'no answer'}", file=sys.stderr)
                    return 1
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                context.close()
                print(f"docs/screenshots/{name}.png  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

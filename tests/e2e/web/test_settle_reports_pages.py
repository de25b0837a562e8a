"""The settlement reports' pages in a real browser against a real server: the owner picks
a month on the counter's reports page and downloads its CSV (the same won as the report
read straight from the store); another shop's owner and the shop's own cashier are
refused it; the city's report is its staff's, not a shop's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from localpay.domain.calendar import iso_date
from localpay.services.settlement import reports
from localpay.sim.demo import DEMO_PASSWORD
from localpay.testing.browser import Site, sign_in

#: The seeded demo's month (testing/servers.seed runs its days from this instant).
SEEDED = iso_date(1_780_000_000_000)[:7]
FILE = f"/c/gimpo/counter/m-00000/reports/{SEEDED}.csv"


@contextmanager
def staff_client(site: Site, username: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.base, timeout=30) as client:
        client.get("/c/gimpo/login")
        form = {"csrf": client.cookies["localpay_csrf"], "username": username}
        answer = client.post("/c/gimpo/login", data={**form, "password": DEMO_PASSWORD})
        assert answer.status_code == 303, answer.text
        yield client


def test_the_owner_downloads_a_month_s_csv_from_the_counter(
    page: Page, site: Site, tmp_path: Path
) -> None:
    sign_in(page, "gimpo", "owner")
    page.goto("/c/gimpo/counter/reports")
    assert page.url.endswith("/c/gimpo/counter/m-00000/reports")
    expect(page.get_by_role("heading", level=1)).to_have_text("정산 명세서")
    page.get_by_label("월").select_option(SEEDED)
    page.get_by_role("button", name="선택").click()
    with page.expect_download() as waiting:
        page.locator("#download-csv").click()
    saved = tmp_path / "statement.csv"
    waiting.value.save_as(saved)
    data = saved.read_bytes()
    box = site.container
    period = reports.parse_month(SEEDED)
    expected = reports.merchant_statement(box.store, box.history, "gimpo", "m-00000", period)
    assert data == reports.merchant_csv(expected)
    assert data.startswith(b"\xef\xbb\xbf") and "일자" in data.decode("utf-8-sig").split(",")[0]
    assert expected.sales > 0  # the demo's shop sold that month


def test_another_shop_s_owner_and_the_cashier_are_refused_the_statement(site: Site) -> None:
    site.container.identity.create_user(
        "gimpo", "merchant_owner", "owner-m1", DEMO_PASSWORD, "m-00001", None
    )
    for username in ("owner-m1", "cashier"):
        with staff_client(site, username) as client:
            assert client.get(FILE).status_code == 404, username
            assert client.get("/c/gimpo/counter/m-00000/reports").status_code == 404
    with httpx.Client(base_url=site.base, timeout=30) as anonymous:
        assert anonymous.get(FILE).status_code in (303, 401)  # to the sign-in page


def test_the_city_report_is_for_the_city_s_staff(site: Site) -> None:
    city_file = f"/c/gimpo/console/reports/{SEEDED}.csv"
    with staff_client(site, "auditor") as client:
        answer = client.get(city_file)
        assert answer.status_code == 200
        assert answer.content.decode("utf-8-sig").startswith("프로그램,")
        assert client.get(f"/c/gimpo/console/reports/{SEEDED}.pdf").content.startswith(b"%PDF")
    with staff_client(site, "owner") as client:
        assert client.get(city_file).status_code == 404

"""The web foundation in a real browser: Korean first, English on request, senior mode
in one tap and remembered, staff sign-in with CSRF-protected forms, HTML errors for pages
and problem+json for the API, another city's page a 404."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from localpay.testing.browser import Site, sign_in

pytestmark = pytest.mark.slow


def test_pages_speak_korean_first_and_english_on_request(page: Page) -> None:
    page.goto("/c/gimpo/")
    assert page.locator("html").get_attribute("lang") == "ko"
    expect(page.get_by_role("link", name="내 지갑")).to_be_visible()
    page.get_by_role("button", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    expect(page.get_by_role("link", name="My wallet")).to_be_visible()
    assert page.url.endswith("/c/gimpo/")  # back on the same page
    page.goto("/")  # remembered on this device
    assert page.locator("html").get_attribute("lang") == "en"


def test_senior_mode_is_one_tap_away_and_remembered(page: Page) -> None:
    page.goto("/c/gimpo/")
    normal = _font_px(page)
    page.get_by_role("button", name="큰 글씨로 보기").click()
    assert page.locator("html").get_attribute("class") == "senior"
    assert _font_px(page) >= 1.5 * normal
    page.goto("/c/gimpo/login")
    assert page.locator("html").get_attribute("class") == "senior"
    page.get_by_role("button", name="보통 글씨로 보기").click()
    assert _font_px(page) == normal


def _font_px(page: Page) -> float:
    return float(page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)"))


def test_staff_sign_in_and_wrong_password(page: Page) -> None:
    sign_in(page, "gimpo", "owner", "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("맞지 않습니다")
    sign_in(page, "gimpo", "owner")
    assert "/c/gimpo/counter/" in page.url
    expect(page.get_by_role("button", name="로그아웃")).to_be_visible()


def test_forms_refuse_a_foreign_or_missing_token(site: Site) -> None:
    with httpx.Client(base_url=site.base) as client:
        client.get("/c/gimpo/login")  # this browser's token, in its cookie
        answer = client.post(
            "/c/gimpo/login",
            data={"csrf": "forged", "username": "owner", "password": "gimpo-demo-2026"},
        )
        assert answer.status_code == 403
        assert "localpay_session" not in answer.cookies
        token = client.cookies["localpay_csrf"]
        foreign = client.post(
            "/c/gimpo/login",
            data={"csrf": token, "username": "owner", "password": "gimpo-demo-2026"},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        ok = client.post(
            "/c/gimpo/login",
            data={"csrf": token, "username": "owner", "password": "gimpo-demo-2026"},
        )
        assert ok.status_code == 303


def test_errors_are_pages_for_people_and_problems_for_the_api(site: Site) -> None:
    with httpx.Client(base_url=site.base) as client:
        page_404 = client.get("/c/nowhere/")
        assert page_404.status_code == 404
        assert page_404.headers["content-type"].startswith("text/html")
        assert "없는 화면입니다" in page_404.text
        api_404 = client.get("/v1/cities/nowhere")
        assert api_404.status_code == 404
        assert api_404.headers["content-type"] == "application/problem+json"
        assert client.get("/no/such/page").headers["content-type"].startswith("text/html")


def test_pages_run_only_our_own_script_files(page: Page, site: Site) -> None:
    """The content security policy refuses an inline script: an injected one cannot run."""
    answer = httpx.get(f"{site.base}/c/gimpo/")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self' 'wasm-unsafe-eval';" in policy
    assert "frame-ancestors 'none'" in policy
    assert answer.headers["cache-control"] == "no-store"
    page.goto("/c/gimpo/")
    page.evaluate(
        """() => { const s = document.createElement("script");
                   s.textContent = "window.injected = true"; document.body.appendChild(s); }"""
    )
    assert page.evaluate("() => window.injected === true") is False
    assert page.evaluate("() => typeof window.htmx") == "object"  # our own files do run

"""The city console in a real browser: a maker drafts a program with a CEL condition (the
checker's message shown beside the field first, then where it applies and "try it"),
proposes it; the checker approves it in the approvals queue (the e2e site holds the
checker's key); a mint proposed from the programs page, approved, moves the overview's
live gauge without a reload. axe-clean, 360 px wide, senior mode."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import nacl.signing
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from localpay.domain import commands as c
from localpay.services.cities.ledgers import new_id
from localpay.services.identity.service import Principal
from localpay.sim.demo import DEMO_PASSWORD
from localpay.testing.browser import Site, horizontal_overflow, serious_violations, sign_in
from localpay.testing.journeys import as_officials

pytestmark = pytest.mark.slow

CITY = "gimpo"
CONSOLE = f"/c/{CITY}/console/"
NARROW: ViewportSize = {"width": 360, "height": 740}


@pytest.fixture
def checker_page(browser: Browser, site: Site) -> Iterator[Page]:
    context = browser.new_context(viewport=NARROW, locale="ko-KR", base_url=site.base)
    context.set_default_timeout(15_000)
    found = context.new_page()
    sign_in(found, CITY, "checker")
    yield found
    context.close()


def _clean(page: Page) -> None:
    assert serious_violations(page) == []
    assert horizontal_overflow(page) == 0


def _draft(page: Page, program: str) -> None:
    page.goto(CONSOLE + "programs/new")
    page.get_by_label(re.compile("정책 아이디")).fill(program)
    page.get_by_label("공개 이름").fill("점심 지원")
    page.locator("input[name=allowed_categories][value=restaurant]").check()
    page.locator("#condition").fill("amount >")
    expect(page.locator("#err-condition")).to_contain_text("Syntax error")
    expect(page.locator("#checks-summary")).to_contain_text("표시된 칸")
    expect(page.locator("#f-name")).to_have_value("점심 지원")  # typing is not lost
    _clean(page)


def test_maker_drafts_a_program_checker_approves_and_the_gauge_moves(
    page: Page, checker_page: Page, site: Site
) -> None:
    program = f"lunch-{uuid.uuid4().hex[:6]}"
    page.set_viewport_size(NARROW)
    sign_in(page, CITY, "maker")
    _draft(page, program)
    page.locator("#condition").fill("weekday <= 5 && hour >= 11 && hour < 14")
    expect(page.locator("#checks-summary")).to_have_text("원장 검사를 통과했습니다.")
    expect(page.locator("#err-condition")).to_be_empty()
    expect(page.locator("#preview-total")).to_contain_text("곳의 영업 중 가맹점")
    page.get_by_label("시(0-23)").fill("12")
    page.get_by_role("button", name="시험해 보기").click()
    expect(page.locator("#tried [data-verdict]")).to_have_attribute("data-verdict", "true")
    page.get_by_label("시(0-23)").fill("20")
    page.get_by_role("button", name="시험해 보기").click()
    expect(page.locator("#tried [data-verdict]")).to_have_attribute("data-verdict", "false")
    _clean(page)
    page.get_by_role("button", name="이 버전 제안하기").click()
    expect(page.locator("#made")).to_be_visible()
    expect(page.locator("#queue")).to_contain_text(f"정책 {program} (점심 지원) 버전 1 정의")
    expect(page.get_by_role("button", name="승인")).to_have_count(0)  # not the maker's to check

    checker_page.goto(CONSOLE + "approvals")
    card = checker_page.locator("li", has_text=f"정책 {program} (점심 지원) 버전 1 정의")
    expect(card).to_contain_text("maker")
    card.get_by_text("이 버전의 규칙").click()  # what the checker approves, in words
    expect(card.locator("code")).to_have_text("weekday <= 5 && hour >= 11 && hour < 14")
    expect(card).to_contain_text("다음 업종만: 음식점")
    _clean(checker_page)
    card.get_by_role("button", name="승인").click()
    sent = checker_page.locator("#recent ~ ul li", has_text=program).first
    expect(sent.locator("[data-outcome]")).to_have_attribute("data-outcome", "ok")
    rules = site.container.ledgers.sequencer(CITY).state.programs[program].versions[-1]
    assert rules.condition == "weekday <= 5 && hour >= 11 && hour < 14"
    assert rules.allowed_categories == ["restaurant"]

    # A mint proposed from the programs page; the overview's gauge follows it live.
    page.goto(CONSOLE + "programs")
    card = page.locator(f"#program-{program}")
    card.get_by_text("예산 발행 제안").click()
    card.get_by_label("신탁계좌에 받은 원화").fill("1,000,000")
    card.get_by_label("입금 참조번호").fill("trust-e2e-1")
    _clean(page)
    card.get_by_role("button", name="발행 제안하기").click()
    expect(page.locator("#queue")).to_contain_text(f"{program} 예산에 1,000,000원 발행")
    checker_page.goto(CONSOLE)
    gauge = checker_page.locator(f"#gauge-{program}")
    expect(gauge.locator("[data-budget]")).to_have_text("0원")
    _clean(checker_page)
    # The checker approves elsewhere (the service, as the queue's button does): the open
    # overview must show the new budget by itself.
    proposal = site.container.proposals.list(CITY, "pending", None, 10)[0]
    assert proposal.command["program"] == program
    site.container.proposals.approve(_principal(site, "checker"), proposal.id)
    expect(gauge.locator("[data-budget]")).to_have_text("1,000,000원")  # no reload
    expect(gauge.locator("progress")).to_have_attribute("value", "100")


def _principal(site: Site, username: str) -> Principal:
    token = site.container.identity.login(CITY, username, DEMO_PASSWORD)
    found = site.container.identity.authenticate(token)
    assert found is not None
    return found


def test_console_pages_in_senior_mode_and_english_at_360_px(page: Page) -> None:
    page.set_viewport_size(NARROW)
    sign_in(page, CITY, "maker")
    page.goto(CONSOLE)
    page.get_by_role("button", name="큰 글씨로 보기").click()
    for path in PAGES:
        page.goto(CONSOLE + path)
        assert page.locator("html").get_attribute("class") == "senior"
        _clean(page)
    page.get_by_role("button", name="English").click()
    for path in PAGES:
        page.goto(CONSOLE + path)
        assert page.locator("html").get_attribute("lang") == "en"
        expect(page.locator("h1")).not_to_be_empty()
        _clean(page)


PAGES = ("", "programs", "programs/new", "programs/general/edit", "approvals")


def test_another_citys_console_and_a_shops_staff_get_the_404_page(page: Page) -> None:
    sign_in(page, "yangju", "maker")
    assert page.goto(CONSOLE).status == 404  # type: ignore[union-attr]
    sign_in(page, CITY, "cashier")
    assert page.goto(CONSOLE + "programs").status == 404  # type: ignore[union-attr]
    assert page.goto(CONSOLE + "approvals").status == 404  # type: ignore[union-attr]


def test_a_checker_holding_their_own_key_is_shown_the_command(page: Page, site: Site) -> None:
    public = bytes(nacl.signing.SigningKey.generate().verify_key).hex()
    name = f"own-{uuid.uuid4().hex[:6]}"
    site.container.identity.create_user(
        CITY, "city_checker", name, DEMO_PASSWORD, official_key=f"pub:{public}"
    )
    maker = _principal(site, "maker")
    made = site.container.proposals.propose(
        maker, "approve_merchant", {"merchant": "m-00001"}, uuid.uuid4().hex
    )
    sign_in(page, CITY, name)
    page.goto(CONSOLE + "approvals")
    card = page.locator(f"#proposal-{made.id}")
    expect(card).to_contain_text("가맹점 m-00001 승인")
    expect(card.locator("code")).to_have_text(
        f"localpay official approve {made.id} --city {CITY} --username {name}"
        f" --key YOUR-KEY-FILE --url {site.base}"
    )
    expect(card.get_by_role("button", name="승인")).to_have_count(0)  # the server cannot sign
    _clean(page)
    site.container.proposals.reject(_principal(site, "checker"), made.id)


def _signed_in(site: Site, username: str) -> tuple[httpx.Client, str]:
    """A browser-less session of the pages (cookie and CSRF token), as a form sees them."""
    http = httpx.Client(base_url=site.base, timeout=30)
    token = re.search(r'name="csrf" value="([^"]+)"', http.get(f"/c/{CITY}/login").text)
    assert token is not None
    data = {"csrf": token.group(1), "username": username, "password": DEMO_PASSWORD}
    assert http.post(f"/c/{CITY}/login", data=data).status_code == 303
    return http, token.group(1)


def test_forms_without_script_refuse_bad_input_repeat_as_one_and_withdraw(site: Site) -> None:
    http, csrf = _signed_in(site, "maker")
    key = uuid.uuid4().hex
    program = f"nojs-{uuid.uuid4().hex[:6]}"
    form = {"csrf": csrf, "idempotency_key": key, "program": program, "name": "No script"}
    try:
        answer = http.post(CONSOLE + "programs", data={**form, "condition": "amount >"})
        assert answer.status_code == 422 and "Syntax error" in answer.text
        pending = site.container.proposals.list(CITY, "pending", None, 100)
        assert all(p.command.get("program") != program for p in pending)  # nothing made
        lines = {**form, "condition": "hour >= 11 &&\r\n\thour < 14"}  # a textarea's lines
        checked = http.post(CONSOLE + "programs/check", data=lines, headers={"HX-Request": "true"})
        assert checked.status_code == 200 and "원장 검사를 통과했습니다." in checked.text
        first = http.post(CONSOLE + "programs", data={**form, "condition": "hour < 12"})
        again = http.post(CONSOLE + "programs", data={**form, "condition": "hour < 12"})
        assert first.status_code == again.status_code == 303
        assert first.headers["location"] == again.headers["location"]  # one proposal
        other = http.post(CONSOLE + "programs", data={**form, "condition": "hour < 13"})
        assert other.status_code == 409  # the same key with other values
        forged = http.post(CONSOLE + "programs", data={**form, "csrf": "forged"})
        assert forged.status_code == 403
        mint = {"csrf": csrf, "idempotency_key": uuid.uuid4().hex, "won_ref": "t-1"}
        bad = http.post(CONSOLE + "programs/general/mint", data={**mint, "amount": "1.5"})
        assert bad.status_code == 422 and "원 단위" in bad.text
        proposal = first.headers["location"].rsplit("=", 1)[1]
        # The maker is no checker: the approve route is not theirs (the 404 page).
        refused = http.post(CONSOLE + f"approvals/{proposal}/approve", data={"csrf": csrf})
        assert refused.status_code == 404
        checker, checker_csrf = _signed_in(site, "checker")
        other = checker.post(
            CONSOLE + f"approvals/{proposal}/withdraw", data={"csrf": checker_csrf}
        )
        checker.close()
        assert other.headers["location"].endswith("?refused=not_maker")
        assert site.container.proposals.get(CITY, proposal).status == "pending"
        back = http.post(CONSOLE + f"approvals/{proposal}/withdraw", data={"csrf": csrf})
        assert back.status_code == 303
        assert site.container.proposals.get(CITY, proposal).status == "rejected"
        assert f"proposal-{proposal}" not in http.get(CONSOLE + "approvals").text
    finally:
        http.close()


def test_the_overview_goes_to_sign_in_when_its_session_ends(page: Page) -> None:
    sign_in(page, CITY, "auditor")
    page.goto(CONSOLE)
    expect(page.locator("#pending-count")).to_be_visible()
    page.context.clear_cookies()  # the session ends while the page stays open
    page.wait_for_url(re.compile(r"/c/gimpo/login\?next="), timeout=20_000)
    expect(page.get_by_label(re.compile("아이디"))).to_be_visible()


def test_every_area_on_the_chain_can_be_chosen_even_unnamed(site: Site) -> None:
    key = bytes(nacl.signing.SigningKey.generate().verify_key).hex()
    as_officials(
        site,
        CITY,
        c.RegisterMerchant(
            id=new_id(),
            city=CITY,
            merchant="m-newri",
            keys=[key],
            category="bakery",
            area="sinchon-ri",
            annual_revenue=10_000_000,
            registration_hash="ab" * 32,
        ),
    )
    http, _ = _signed_in(site, "maker")
    try:
        form = http.get(CONSOLE + "programs/new").text
    finally:
        http.close()
    assert 'name="areas" value="sinchon-ri"' in form  # the directory has no name for it yet
    assert 'name="areas" value="gurae-dong"' in form  # and the named ones are there

"""The public explorer in a real browser: blocks and their cosignatures and finality,
supply over time (chart and table), payment aggregates with no wallet in them, and the
receipt checker passing a real receipt and failing one with one changed byte, in the
browser, in agreement with the Python verifier."""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
import re
import time
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from playwright.sync_api import Browser, FilePayload, Page, ViewportSize, expect

from localpay.adapters.keystore import KeyStore
from localpay.ledger.log import checkpoint
from localpay.services.cities.inspect import program_view
from localpay.services.transparency.verifier import verify_receipt
from localpay.testing.browser import PHONE, Site, horizontal_overflow, serious_violations
from localpay.testing.servers import pay_over_http

pytestmark = pytest.mark.slow
CITY = "gimpo"
WITNESSES = (("witness-audit", "audit.gimpo.example"), ("witness-bank", "trustbank.gimpo.example"))


def _pay(site: Site, amount: int, merchant: str = "m-00000") -> dict[str, Any]:
    return pay_over_http(site.base, site.keys, amount, merchant)


def _cosign_latest(site: Site, *witnesses: tuple[str, str]) -> dict[str, Any]:
    """The named demo witnesses cosign the latest checkpoint through the API's witness path."""
    with httpx.Client(base_url=site.base, timeout=30) as client:
        latest = client.get(f"/v1/cities/{CITY}/checkpoints", params={"limit": 1}).json()
        point = latest["items"][0]
        body, _ = checkpoint.open_note(point["note"])
        answer: dict[str, Any] = point
        for key_file, name in witnesses:
            seed = bytes(KeyStore(site.keys).load(CITY, key_file))
            line = checkpoint.cosign(body, name, seed, int(time.time()))
            r = client.post(
                f"/v1/cities/{CITY}/checkpoints/{point['size']}/cosignatures", json={"line": line}
            )
            assert r.status_code == 201, r.text
            answer = r.json()
    return answer


def _pins(site: Site) -> dict[str, Any]:
    page_html = httpx.get(f"{site.base}/c/{CITY}/explorer/receipt").text
    found = re.search(
        r'<script type="application/json" id="receipt-pins">(.*?)</script>', page_html
    )
    assert found is not None
    return dict(json.loads(found.group(1)))


# -- blocks and checkpoints ---------------------------------------------------------------


def test_blocks_and_a_block_not_final_then_final_by_cosignatures(page: Page, site: Site) -> None:
    _pay(site, 1_000)  # a new block, that no witness has cosigned
    page.goto(f"/c/{CITY}/explorer/")
    expect(page.locator("table.blocks tbody tr").first).to_be_visible()
    head = site.container.store.head(CITY)
    assert head is not None
    expect(page.locator("#latest-finality")).to_contain_text("아직 확정되지 않았습니다")
    page.locator("table.blocks tbody tr").first.get_by_role("link").click()
    assert page.url.endswith(f"/explorer/blocks/{head.height}")
    expect(page.locator("#tx-count")).to_have_text("1")
    statuses = page.locator("ul.witnesses li")
    expect(statuses).to_have_count(3)
    for item in statuses.all():
        assert item.get_attribute("data-status") == "missing"
    expect(page.locator("#finality")).to_contain_text("아직 확정되지 않았습니다")

    view = _cosign_latest(site, *WITNESSES)
    assert view["final"]
    page.reload()
    expect(page.locator("#finality")).to_contain_text("확정")
    expect(page.locator("#finality")).not_to_contain_text("아직")
    cosigned = page.locator('ul.witnesses li[data-status="verified"]')
    expect(cosigned).to_have_count(2)
    expect(page.locator('li[data-witness="audit.gimpo.example"]')).to_contain_text("검증")
    expect(page.locator('li[data-witness="civic.gimpo.example"]')).to_have_attribute(
        "data-status", "missing"
    )


def test_a_block_page_shows_counts_and_no_transaction(page: Page, site: Site) -> None:
    paid = _pay(site, 1_100)
    tx_id = paid["proof"]["transaction"]["id"]
    height = paid["proof"]["transaction"]["height"]
    page.goto(f"/c/{CITY}/explorer/blocks/{height}")
    html = page.content()
    assert tx_id not in html
    assert not re.search(r"w-\d{7}|m-\d{5}", html)
    answer = httpx.get(f"{site.base}/c/{CITY}/explorer/blocks/999999")
    assert answer.status_code == 404


# -- supply -------------------------------------------------------------------------------


def test_supply_chart_and_its_table_have_the_services_numbers(page: Page, site: Site) -> None:
    page.goto(f"/c/{CITY}/explorer/supply")
    expect(page.locator("#supply-chart canvas")).to_have_count(1)
    points = site.container.explorer.supply(CITY)
    rows = page.locator("#supply-table tbody tr")
    expect(rows).to_have_count(len(points))
    shown = [
        (
            r.get_attribute("data-date"),
            r.get_attribute("data-minted"),
            r.get_attribute("data-burned"),
            r.get_attribute("data-outstanding"),
        )
        for r in rows.all()
    ]
    expected = [
        (p.date, str(p.minted), str(p.burned), str(p.outstanding)) for p in reversed(points)
    ]
    assert shown == expected
    summary = httpx.get(f"{site.base}/v1/cities/{CITY}").json()
    assert points[-1].outstanding == summary["supply"]  # the ledger's own Totals
    expect(rows.first).to_contain_text(f"{points[-1].outstanding:,}원")


# -- aggregates ---------------------------------------------------------------------------


def test_aggregates_show_no_wallet_and_suppress_small_cells(page: Page, site: Site) -> None:
    for _ in range(6):
        _pay(site, 500)
    _pay(site, 700, merchant="m-00001")  # alone in its neighbourhood today: a small cell
    page.goto(f"/c/{CITY}/explorer/payments")
    html = page.content()
    assert not re.search(r"w-\d{7}", html), "a wallet id on the public aggregates"
    expect(page.locator("#small-cells")).to_contain_text("5건 미만")
    table = site.container.explorer.payments(CITY, "area")
    today = table.rows[0]
    assert today.total.count is not None and today.total.count >= 7
    hidden = [area for area, cell in today.cells.items() if cell.suppressed]
    assert len(hidden) >= 2  # the small cell, and one more so the total does not give it away
    row = page.locator("#by-area tbody tr").first
    expect(row.locator("td").last).to_contain_text(f"{today.total.count}건")
    expect(row.locator("td", has_text="<5")).to_have_count(len(hidden))
    cells = row.locator("td").all_inner_texts()[:-1]  # the neighbourhoods, not the day's total
    assert not any(re.search(r"(?<![\d,])700원", text) for text in cells)  # the lone one
    # Programs by the names people know them by, from the chain's policies.
    general = program_view(site.container.store, CITY, "general").versions[-1].name
    expect(page.locator("#by-program thead")).to_contain_text(general)


# -- the receipt checker ------------------------------------------------------------------


def _check_in_page(page: Page, receipt: dict[str, Any]) -> dict[str, str]:
    page.locator("#receipt-text").fill(json.dumps(receipt, ensure_ascii=False))
    page.get_by_role("button", name="영수증 검증하기").click()
    expect(page.locator("#receipt-verdict")).not_to_have_attribute("data-state", "none")
    page.wait_for_function("document.querySelectorAll('#receipt-checks li').length > 0")
    return {
        str(li.get_attribute("data-check")): str(li.get_attribute("data-status"))
        for li in page.locator("#receipt-checks li").all()
    }


def _flip_hex(text: str, at: int) -> str:
    return text[:at] + ("0" if text[at] != "0" else "1") + text[at + 1 :]


def _tampered(receipt: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One changed byte in the operator's signature, in the audit path, in the transaction."""
    out = {}
    signature = copy.deepcopy(receipt)
    text, sep, lines = signature["note"].rpartition("\n\n")
    first, *rest = lines.split("\n")
    name, blob = first[2:].split(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[10] ^= 0x01
    first = f"— {name} {base64.b64encode(bytes(raw)).decode()}"
    signature["note"] = text + sep + "\n".join([first, *rest])
    out["operator"] = signature
    path = copy.deepcopy(receipt)
    assert path["inclusion_proof"], "the seeded log has more than one leaf"
    path["inclusion_proof"][0] = _flip_hex(path["inclusion_proof"][0], 5)
    out["inclusion"] = path
    tx = copy.deepcopy(receipt)
    tx["transaction"]["envelope"] = re.sub(
        r'"amount":(\d+)',
        lambda m: f'"amount":{int(m.group(1)) + 1}',
        tx["transaction"]["envelope"],
        count=1,
    )
    out["transaction"] = tx
    return out


def test_the_checker_passes_a_real_receipt_and_fails_a_changed_byte(page: Page, site: Site) -> None:
    receipt = _pay(site, 1_200)["proof"]
    page.goto(f"/c/{CITY}/explorer/receipt")
    expect(page.locator("#receipt-form")).to_have_attribute("data-ready", "1")
    checks = _check_in_page(page, receipt)
    assert checks["operator"] == checks["inclusion"] == checks["transaction"] == "ok"
    assert checks["quorum"] == "warn"  # not final yet: no witness has cosigned its block
    expect(page.locator("#receipt-verdict")).to_have_attribute("data-state", "ok")
    for failing, bad in _tampered(receipt).items():
        checks = _check_in_page(page, bad)
        assert checks[failing] == "FAIL", (failing, checks)
        expect(page.locator("#receipt-verdict")).to_have_attribute("data-state", "fail")
        expect(page.locator(f'#receipt-checks li[data-check="{failing}"]')).to_contain_text("실패")


def test_a_final_receipt_passes_with_its_cosignatures(page: Page, site: Site) -> None:
    paid = _pay(site, 1_300)
    _cosign_latest(site, *WITNESSES)
    with httpx.Client(base_url=site.base, timeout=30) as client:
        token = client.post(
            "/v1/auth/login",
            json={"city": CITY, "username": "auditor", "password": "gimpo-demo-2026"},
        ).json()["token"]
        tx_id = paid["proof"]["transaction"]["id"]
        receipt = client.get(
            f"/v1/cities/{CITY}/transactions/{tx_id}/receipt",
            headers={"Authorization": f"Bearer {token}"},
        ).json()
    assert receipt["final"]
    page.goto(f"/c/{CITY}/explorer/receipt")
    checks = _check_in_page(page, receipt)
    assert set(checks.values()) == {"ok"}, checks
    expect(page.locator('#receipt-checks li[data-check="quorum"]')).to_contain_text("FINAL")


def test_the_browser_and_python_verifiers_agree(page: Page, site: Site) -> None:
    paid = _pay(site, 1_400)["proof"]
    pins = _pins(site)
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [(paid, pins)]
    cases += [(bad, pins) for bad in _tampered(paid).values()]
    cases.append((paid, {"operatorKey": None, "witnesses": None, "quorum": None}))
    cases.append((paid, {**pins, "operatorKey": "00" * 32}))
    cases.append((paid, {"operatorKey": None, "allowUnpinned": True}))
    cases.append(({**paid, "tree_size": "38"}, pins))
    cases.append(({**paid, "note": paid["note"].replace("\n\n", "\n")}, pins))
    cases.append(({**paid, "final": True}, pins))
    page.goto(f"/c/{CITY}/explorer/receipt")
    expect(page.locator("#receipt-form")).to_have_attribute("data-ready", "1")
    for receipt, pin in cases:
        browser = page.evaluate(
            """async ([receipt, pins]) => {
                const m = await import("/static/js/receipt-verify.js");
                return (await m.verifyReceipt(receipt, pins)).checks;
            }""",
            [receipt, pin],
        )
        witnesses = pin.get("witnesses")
        python = verify_receipt(
            receipt,
            pin.get("operatorKey"),
            [(w["name"], w["key"]) for w in witnesses] if witnesses else None,
            pin.get("quorum") if witnesses else None,
            allow_unpinned=bool(pin.get("allowUnpinned")),
        )
        assert [(c["status"], c["name"], c["detail"]) for c in browser] == [
            (c.status, c.name, c.message) for c in python
        ]


def _rotation_cases() -> list[tuple[str, dict[str, Any]]]:
    """Synthetic receipts after an operator key rotation, valid and broken one way each
    (the offline verifier's own unit cases, tests/unit/transparency)."""
    path = Path(__file__).resolve().parents[2] / "unit/transparency/test_rotation_proofs.py"
    spec = importlib.util.spec_from_file_location("rotation_cases", path)
    assert spec is not None and spec.loader is not None
    cases = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cases)
    other = cases.public_key_hex(cases.OTHER)
    out = [
        ("valid", cases.receipt()),
        ("old-key", cases.receipt(old_key=other)),
        ("signer", cases.receipt(signer=cases.OTHER)),
        ("refused", cases.receipt(result=b'{"code":"approvals_missing"}')),
        ("self-vouched", cases.receipt(vouched_by=cases.NEW)),
        ("missing", {**cases.receipt(), "operator_rotations": []}),
        ("twice", cases.reordered()),
        ("not-before", cases.to_the_end()),
    ]
    edited = copy.deepcopy(cases.receipt())
    edited["operator_rotations"][0]["leaf_index"] = 0
    out.append(("edited-leaf", edited))
    malformed = cases.receipt()
    del malformed["operator_rotations"][0]["note"]
    out.append(("malformed", malformed))
    pinned = cases.public_key_hex(cases.OLD)
    return [(name, {**r, "_pin": pinned}) for name, r in out]


def test_the_verifiers_agree_after_operator_rotations(page: Page) -> None:
    page.goto(f"/c/{CITY}/explorer/receipt")
    expect(page.locator("#receipt-form")).to_have_attribute("data-ready", "1")
    for name, case in _rotation_cases():
        pinned = case.pop("_pin")
        browser = page.evaluate(
            """async ([receipt, key]) => {
                const m = await import("/static/js/receipt-verify.js");
                return (await m.verifyReceipt(receipt, {operatorKey: key})).checks;
            }""",
            [case, pinned],
        )
        python = verify_receipt(case, pinned)
        assert [(c["status"], c["name"], c["detail"]) for c in browser] == [
            (c.status, c.name, c.message) for c in python
        ], name
        if name == "valid":
            assert {c["name"]: c["status"] for c in browser}["operator"] == "ok"
        else:
            assert any(c["status"] == "FAIL" for c in browser), name


# -- every page: accessible, on a phone, in both modes -----------------------------------


@pytest.mark.parametrize("path", ["", "blocks/1", "supply", "payments", "receipt"])
def test_explorer_pages_are_accessible_and_fit_a_phone(
    browser: Browser, site: Site, path: str
) -> None:
    # Both modes, both languages, 360 px and 360 px at 200 % zoom.
    context = browser.new_context(viewport=cast("ViewportSize", PHONE), base_url=site.base)
    page = context.new_page()
    try:
        page.goto(f"/c/{CITY}/explorer/{path}")
        assert serious_violations(page) == []
        assert horizontal_overflow(page) == 0
        page.get_by_role("button", name="큰 글씨로 보기").click()
        expect(page.locator("html")).to_have_class("senior")
        assert serious_violations(page) == []
        assert horizontal_overflow(page) == 0
        page.get_by_role("button", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        assert serious_violations(page) == []
        page.get_by_role("button", name="Normal text").click()
        expect(page.locator("html")).not_to_have_class("senior")
        assert serious_violations(page) == []
        assert horizontal_overflow(page) == 0
        page.set_viewport_size({"width": 180, "height": 740})  # 360 px at 200 % zoom
        assert horizontal_overflow(page) == 0
        page.get_by_role("button", name="Large text (senior mode)").click()
        expect(page.locator("html")).to_have_class("senior")
        assert horizontal_overflow(page) == 0
    finally:
        context.close()


_NO_WEBCRYPTO_ED25519 = """
(() => {
  const subtle = globalThis.crypto.subtle;
  const importKey = subtle.importKey.bind(subtle);
  const digest = subtle.digest.bind(subtle);
  window.sha512Calls = 0;
  subtle.importKey = (format, key, algorithm, ...rest) => {
    if ((algorithm && algorithm.name) === "Ed25519") {
      return Promise.reject(new DOMException("no Ed25519 here", "NotSupportedError"));
    }
    return importKey(format, key, algorithm, ...rest);
  };
  subtle.digest = (algorithm, data) => {
    if (algorithm === "SHA-512") window.sha512Calls += 1;
    return digest(algorithm, data);
  };
})();
"""


def test_without_webcrypto_ed25519_the_vendored_library_verifies(page: Page, site: Site) -> None:
    receipt = _pay(site, 1_500)["proof"]
    page.add_init_script(_NO_WEBCRYPTO_ED25519)
    page.goto(f"/c/{CITY}/explorer/receipt")
    expect(page.locator("#receipt-form")).to_have_attribute("data-ready", "1")
    checks = _check_in_page(page, receipt)
    assert checks["operator"] == checks["transaction"] == checks["inclusion"] == "ok", checks
    assert page.evaluate("window.sha512Calls") > 0  # @noble/ed25519 hashed: it verified
    bad = _tampered(receipt)["operator"]
    assert _check_in_page(page, bad)["operator"] == "FAIL"


def test_a_receipt_file_is_checked_with_the_keyboard_only(page: Page, site: Site) -> None:
    receipt = _pay(site, 1_600)["proof"]
    page.goto(f"/c/{CITY}/explorer/receipt")
    expect(page.locator("#receipt-form")).to_have_attribute("data-ready", "1")
    upload: FilePayload = {
        "name": "receipt.json",
        "mimeType": "application/json",
        "buffer": json.dumps(receipt).encode(),
    }
    page.set_input_files("#receipt-file", files=[upload])
    expect(page.locator("#receipt-text")).not_to_have_value("")
    page.locator("#receipt-file").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "receipt-check"
    page.keyboard.press("Enter")
    expect(page.locator("#receipt-verdict")).to_have_attribute("data-state", "ok")
    page.locator("#receipt-text").fill("{not json")
    page.locator("#receipt-check").press("Enter")
    expect(page.locator("#receipt-verdict")).to_contain_text("올바른 JSON이 아닙니다")


def test_blocks_page_by_page(page: Page, site: Site) -> None:
    head = site.container.store.head(CITY)
    assert head is not None and head.height >= 3
    page.goto(f"/c/{CITY}/explorer/?before={head.height - 2}")
    rows = page.locator("table.blocks tbody tr th")
    expect(rows.first).to_have_text(str(head.height - 2))
    older = page.get_by_role("link", name="더 오래된 블록")
    expect(older).to_have_count(1 if head.height - 2 >= 20 else 0)
    page.get_by_role("link", name="더 최근 블록").click()
    expect(rows.first).to_have_text(str(site.container.store.head(CITY).height))  # type: ignore[union-attr]
    expect(rows.last).to_have_text(str(max(0, head.height - 19)))
    assert httpx.get(f"{site.base}/c/yangju/explorer/blocks/0").status_code == 200
    assert httpx.get(f"{site.base}/c/nowhere/explorer/").status_code == 404
    assert httpx.get(f"{site.base}/c/{CITY}/explorer/blocks/-1").status_code == 404

"""Scan-to-pay through the camera: Chromium's fake camera plays a video of the counter's
dynamic QR (a Y4M file made from the QR's PNG), the scan page reads it from the live video
with the vendored decoder, shows the shop verified and pays it."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect, sync_playwright

from localpay.adapters.keystore import KeyStore
from localpay.services.payments.qr import render
from localpay.sim.demo import DEMO_SECRET, derived_key
from localpay.testing.browser import ARGS, CHROMIUM, PHONE, Site, citizen_cookie

pytestmark = pytest.mark.slow

CITY = "gimpo"
WALLET = "w-0000001"
SHOP = "m-00000"
WIDTH, HEIGHT = 640, 480


def y4m_of(png: bytes, path: Path, frames: int = 5) -> None:
    """A still video (YUV 4:2:0) of the QR on white, as Chromium's fake camera plays it."""
    qr = Image.open(io.BytesIO(png)).convert("L").resize((440, 440), Image.Resampling.NEAREST)
    canvas = Image.new("L", (WIDTH, HEIGHT), 255)
    canvas.paste(qr, ((WIDTH - 440) // 2, (HEIGHT - 440) // 2))
    chroma = bytes([128]) * (WIDTH // 2 * HEIGHT // 2)
    frame = b"FRAME\n" + canvas.tobytes() + chroma + chroma
    header = f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F5:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + frame * frames)


def test_the_camera_reads_the_counters_qr_and_the_wallet_pays(site: Site, tmp_path: Path) -> None:
    made = site.container.qr_requests.create(CITY, SHOP, 4_500, "camera-test-0000000000000000000")
    video = tmp_path / "qr.y4m"
    y4m_of(render.png(made.payload), video)
    args = [
        *ARGS,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    seed = bytes(derived_key(bytes(KeyStore(site.keys).load(CITY, DEMO_SECRET)), WALLET))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            context = browser.new_context(
                viewport=PHONE,  # type: ignore[arg-type]
                locale="ko-KR",
                base_url=site.base,
                permissions=["camera"],
            )
            context.set_default_timeout(20_000)
            context.add_cookies([citizen_cookie(site, CITY, WALLET)])  # type: ignore[list-item]
            page = context.new_page()
            page.goto(f"/c/{CITY}/wallet/scan?decoder=ponyfill")
            page.evaluate(
                """async ([city, wallet, seed]) => {
                  const keys = await import("/static/js/wallet/keys.js");
                  await keys.saveWallet(city, wallet, keys.hexToBytes(seed));
                }""",
                [CITY, WALLET, seed.hex()],
            )
            page.get_by_role("button", name="카메라로 스캔").click()
            expect(page.locator("#verified-badge")).to_be_visible()
            expect(page.locator("#scan-amount")).to_have_text("4,500원")
            expect(page.locator("#scan-video")).to_be_hidden()  # the camera stopped
            page.get_by_role("button", name=re.compile("4,500원 결제")).click()
            page.wait_for_url(re.compile(r"/wallet/receipts/[0-9a-f]{32}$"))
        finally:
            browser.close()
    assert site.container.qr_requests.get(CITY, made.reference).status == "paid"

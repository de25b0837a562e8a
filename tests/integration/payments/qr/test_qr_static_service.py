"""The static merchant QR service on both stores: every shop's code reads back verified with
the city's key, kept in the key store; the sticker PDF and the PNG decode to the code; the CLI
makes the files and reads codes back with the right exit codes."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import nacl.signing
import pypdfium2  # type: ignore[import-untyped]
import pytest
import zxingcpp
from PIL import Image

from localpay.adapters.documents.stickers import WeasyStickerPrinter
from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import open_directory
from localpay.domain.errors import NotFound
from localpay.services.payments.qr import emvco, merchant_qr
from localpay.services.payments.qr.static import KEY_NAME, MerchantQrs
from localpay.sim.demo import demo_directory
from localpay.testing.builders import DemoChain

CITY = "gimpo"
A5_POINTS = (419.53, 595.28)  # 148 x 210 mm


@pytest.fixture
def qrs(demo_chain: DemoChain, keys: KeyStore) -> MerchantQrs:
    directory = open_directory(demo_chain.store)  # type: ignore[arg-type]
    demo_directory(directory, CITY, 1)
    return MerchantQrs(demo_chain.store, directory, keys, WeasyStickerPrinter())


def _decode(picture: Image.Image) -> list[str]:
    return [code.text for code in zxingcpp.read_barcodes(picture)]


def test_every_shops_code_reads_back_verified(qrs: MerchantQrs) -> None:
    shops = qrs.directory.shops(CITY)
    assert shops
    for shop in shops:
        reading = qrs.read(CITY, qrs.payload(CITY, shop.merchant))
        assert reading.verified, reading.reason
        assert reading.qr is not None and reading.qr.merchant == shop.merchant
        assert reading.qr.name_ko == shop.name[:25]
        assert reading.shop == shop


def test_the_key_is_the_citys_own_and_kept(qrs: MerchantQrs, keys: KeyStore) -> None:
    shop = qrs.directory.shops(CITY)[0].merchant
    text = qrs.payload(CITY, shop)
    assert KEY_NAME in keys.names(CITY)
    again = MerchantQrs(qrs.store, qrs.directory, keys, WeasyStickerPrinter())
    assert again.verify_key_hex(CITY) == qrs.verify_key_hex(CITY)
    assert again.payload(CITY, shop) == text  # Ed25519 is deterministic: the same sticker
    merchant_qr.read(text, nacl.signing.VerifyKey(bytes.fromhex(again.verify_key_hex(CITY))))


def test_no_key_is_made_for_a_city_that_does_not_exist(qrs: MerchantQrs, keys: KeyStore) -> None:
    with pytest.raises(NotFound):
        qrs.payload("nowhere", "m-00000")
    with pytest.raises(NotFound):
        qrs.payload(CITY, "m-99999")
    assert keys.names("nowhere") == []


def test_forged_and_foreign_codes_do_not_verify(qrs: MerchantQrs) -> None:
    shop = qrs.directory.shops(CITY)[0]
    facts = qrs.facts(CITY, shop.merchant)
    forged = merchant_qr.payload(facts, nacl.signing.SigningKey.generate())
    reading = qrs.read(CITY, forged)
    assert not reading.verified and reading.reason == "signature does not verify"
    assert reading.shop is None  # no shop shown beside a refused code
    text = qrs.payload(CITY, shop.merchant)
    other = shop.merchant[:-1] + ("1" if shop.merchant[-1] != "1" else "2")
    body = text.replace(f"02{len(shop.merchant):02d}{shop.merchant}", f"02{len(other):02d}{other}")
    altered = body[:-4] + emvco.crc16(body[:-4].encode())
    assert altered != text
    assert qrs.read(CITY, altered).reason == "signature does not verify"
    elsewhere = merchant_qr.payload(
        merchant_qr.ShopFacts("yangju", "m-00000", "bakery", "빵집", "Bakery", "양주시"),
        nacl.signing.SigningKey.generate(),
    )
    assert qrs.read(CITY, elsewhere).reason == "this is a code of another city (yangju)"
    wrong_crc = text[:-1] + ("1" if text[-1] != "1" else "2")
    assert "CRC mismatch" in qrs.read(CITY, wrong_crc).reason


def test_png_and_sticker_decode_to_the_code(qrs: MerchantQrs) -> None:
    shop = qrs.directory.shops(CITY)[0]
    text = qrs.payload(CITY, shop.merchant)
    assert _decode(Image.open(io.BytesIO(qrs.image(CITY, shop.merchant, "png")))) == [text]
    pdf = pypdfium2.PdfDocument(qrs.image(CITY, shop.merchant, "pdf"))
    assert len(pdf) == 1
    width, height = pdf[0].get_size()
    assert (round(width, 2), round(height, 2)) == A5_POINTS
    assert _decode(pdf[0].render(scale=2).to_pil()) == [text]
    words = pdf[0].get_textpage().get_text_range()
    sticker_words = ("지역화폐 결제 가능", "Local currency accepted", "김포시")
    for wanted in (shop.name, shop.merchant, *sticker_words):
        assert wanted in words
    svg = qrs.image(CITY, shop.merchant, "svg").decode()
    assert svg.startswith("<svg") and f"<title>{shop.name}</title>" in svg


# -- the CLI ------------------------------------------------------------------------------

CLI = [sys.executable, "-m", "localpay.entrypoints.cli"]


def _cli(chain: DemoChain, keys: KeyStore, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "--db", chain.url, "--keys", str(keys.root), "qr", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.slow
def test_cli_makes_files_and_reads_codes(
    qrs: MerchantQrs, demo_chain: DemoChain, keys: KeyStore, tmp_path: Path
) -> None:
    shop = qrs.directory.shops(CITY)[0].merchant
    text = qrs.payload(CITY, shop)
    for suffix in ("png", "svg", "pdf", "txt"):
        made = _cli(demo_chain, keys, "static", "--city", CITY, "--merchant", shop,
                    "--out", str(tmp_path / f"code.{suffix}"))  # fmt: skip
        assert made.returncode == 0, made.stderr
    assert (tmp_path / "code.txt").read_text() == text
    assert (tmp_path / "code.pdf").read_bytes().startswith(b"%PDF")
    printed = _cli(demo_chain, keys, "static", "--city", CITY, "--merchant", shop)
    assert printed.returncode == 0 and printed.stdout.strip() == text

    read = _cli(demo_chain, keys, "read", text)
    assert read.returncode == 0, read.stderr
    assert "verified       yes" in read.stdout and shop in read.stdout
    from_image = _cli(demo_chain, keys, "read", "--image", str(tmp_path / "code.png"))
    assert from_image.returncode == 0 and "verified       yes" in from_image.stdout

    forged = merchant_qr.payload(qrs.facts(CITY, shop), nacl.signing.SigningKey.generate())
    refused = _cli(demo_chain, keys, "read", forged)
    assert refused.returncode == 1
    assert "not verified: signature does not verify" in refused.stderr
    garbage = _cli(demo_chain, keys, "read", "hello")
    assert garbage.returncode == 1 and "not a valid payment QR code" in garbage.stderr

    bad_suffix = _cli(demo_chain, keys, "static", "--city", CITY, "--merchant", shop,
                      "--out", str(tmp_path / "code.jpg"))  # fmt: skip
    assert bad_suffix.returncode == 2 and ".png, .svg, .pdf or .txt" in bad_suffix.stderr
    no_shop = _cli(demo_chain, keys, "static", "--city", CITY, "--merchant", "m-99999")
    assert no_shop.returncode == 1 and "no merchant 'm-99999'" in no_shop.stderr
    key = _cli(demo_chain, keys, "key", "--city", CITY)
    assert key.returncode == 0 and key.stdout.strip() == qrs.verify_key_hex(CITY)

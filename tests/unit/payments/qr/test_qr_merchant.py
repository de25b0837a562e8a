"""Our merchant QR: its layout, reading it back, and the forgeries a wallet must refuse."""

from __future__ import annotations

import io

import nacl.signing
import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from localpay.services.payments.qr import emvco, merchant_qr, render
from localpay.services.payments.qr.merchant_qr import QrError, ShopFacts

KEY = nacl.signing.SigningKey(b"\x01" * 32)
OTHER_CITY_KEY = nacl.signing.SigningKey(b"\x02" * 32)
SHOP = ShopFacts(
    city="gimpo",
    merchant="m-00000",
    category="bakery",
    name_ko="구래동 행복 빵집",
    name_en="Gurae-dong Haengbok Bakehouse",
    city_name_ko="김포시",
)


def _resign_crc(text: str) -> str:
    body = text[:-4]
    return body + emvco.crc16(body.encode())


def test_static_layout() -> None:
    fields = emvco.parse(merchant_qr.payload(SHOP, KEY))
    assert fields["00"] == "01" and fields["01"] == "11"
    assert fields["26"] == {"00": "kr.localpay", "01": "gimpo", "02": "m-00000"}
    assert fields["52"] == "5462"  # bakeries
    assert (fields["53"], fields["58"]) == ("410", "KR")
    assert fields["59"] == "Gurae-dong Haengbok"  # the English name cut at a word to 25
    assert fields["60"] == "Gimposi"
    assert fields["64"] == {"00": "KO", "01": "구래동 행복 빵집", "02": "김포시"}
    stamp = fields["80"]
    assert isinstance(stamp, dict) and stamp["00"] == "kr.localpay" and len(stamp["01"]) == 80
    assert "54" not in fields and "62" not in fields


def test_dynamic_layout_has_amount_and_reference() -> None:
    text = merchant_qr.payload(SHOP, KEY, 12000, "ABCDEFGHIJKLMNOP")
    fields = emvco.parse(text)
    assert fields["01"] == "12" and fields["54"] == "12000"
    assert fields["62"] == {"05": "ABCDEFGHIJKLMNOP"}
    qr = merchant_qr.read(text, KEY.verify_key)
    assert (qr.initiation, qr.amount, qr.reference) == ("12", 12000, "ABCDEFGHIJKLMNOP")
    with pytest.raises(QrError, match="both an amount and a reference"):
        merchant_qr.payload(SHOP, KEY, 12000)


def test_read_gives_the_shop_back() -> None:
    qr = merchant_qr.read(merchant_qr.payload(SHOP, KEY), KEY.verify_key)
    assert (qr.city, qr.merchant, qr.name_ko, qr.city_name_ko) == (
        "gimpo",
        "m-00000",
        "구래동 행복 빵집",
        "김포시",
    )
    assert qr.initiation == "11" and qr.amount is None


def test_another_citys_signature_does_not_verify() -> None:
    forged = merchant_qr.payload(SHOP, OTHER_CITY_KEY)
    with pytest.raises(QrError) as caught:
        merchant_qr.read(forged, KEY.verify_key)
    assert caught.value.reason == "signature does not verify"


@pytest.mark.parametrize(
    ("old", "new"),
    [("0207m-00000", "0207m-00001"), ("0105gimpo", "0105gimpa")],
)
def test_an_altered_shop_with_a_recomputed_crc_does_not_verify(old: str, new: str) -> None:
    text = merchant_qr.payload(SHOP, KEY)
    altered = _resign_crc(text.replace(old, new))
    assert emvco.parse(altered)  # a well-formed code: only the signature catches it
    with pytest.raises(QrError, match="signature does not verify"):
        merchant_qr.read(altered, KEY.verify_key)


def test_an_altered_signature_does_not_verify() -> None:
    text = merchant_qr.payload(SHOP, KEY)
    at = text.index("0180") + 4
    flipped = "A" if text[at] != "A" else "B"
    altered = _resign_crc(text[:at] + flipped + text[at + 1 :])
    with pytest.raises(QrError, match="signature does not verify"):
        merchant_qr.read(altered, KEY.verify_key)


def test_one_changed_byte_without_new_crc_is_not_a_valid_code() -> None:
    text = merchant_qr.payload(SHOP, KEY)
    with pytest.raises(QrError, match="CRC mismatch"):
        merchant_qr.read(text.replace("m-00000", "m-00001"), KEY.verify_key)


def test_foreign_codes_are_not_ours() -> None:
    pix = (
        "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000"
        "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
    )
    with pytest.raises(QrError, match="not a localpay code"):
        merchant_qr.read(pix, KEY.verify_key)
    with pytest.raises(QrError, match="not a valid payment QR code"):
        merchant_qr.read("https://example.com/pay", KEY.verify_key)


def test_a_static_code_with_an_amount_is_refused() -> None:
    text = merchant_qr.payload(SHOP, KEY)
    at = text.index("5802KR")
    with_amount = _resign_crc(text[:at] + "54045000" + text[at:])
    with pytest.raises(QrError, match="static code with an amount"):
        merchant_qr.read(with_amount, KEY.verify_key)


def test_names_romanized_when_there_is_no_english_name() -> None:
    name = "스타벅스 김포구래점 가나다라"
    unnamed = ShopFacts("gimpo", "m-00007", "cafe", name, "m-00007", "김포시")
    fields = emvco.parse(merchant_qr.payload(unnamed, KEY))
    assert fields["59"] == "Seutabeokseu"  # cut at a word: the next would pass 25
    assert fields["52"] == "5814"
    assert merchant_qr.romanize("한빛 빵집", 25) == "Hanbit Ppangjip"
    assert merchant_qr.romanize("最佳运输", 25) == ""  # nothing printable: the caller falls back
    assert merchant_qr.mcc_of("no-such-category") == "5499"


def test_the_png_decodes_to_the_payload() -> None:
    text = merchant_qr.payload(SHOP, KEY)
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(render.png(text))))
    assert [b.text for b in found] == [text]
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode  # never a Micro QR


def test_the_svg_is_sized_for_print() -> None:
    drawn = render.svg_of_width(merchant_qr.payload(SHOP, KEY), 80, title="빵집")
    assert drawn.startswith("<svg") and 'width="80.0mm"' in drawn and "<title>빵집</title>" in drawn


_SYLLABLES = st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3)
_HANGUL = st.text(_SYLLABLES, min_size=1, max_size=40)
_PRINTABLE = st.text(
    st.characters(codec="utf-8", exclude_categories=["C"]), min_size=1, max_size=60
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_HANGUL, _PRINTABLE), _PRINTABLE, st.one_of(_HANGUL, _PRINTABLE))
def test_any_directory_name_makes_a_code_that_reads_back(name: str, en: str, city: str) -> None:
    shop = ShopFacts("gimpo", "m-00000", "bakery", name, en, city)
    try:
        text = merchant_qr.payload(shop, KEY)
    except QrError:
        # Only a name with nothing but spaces can make no code (the directory keeps none).
        assert not name.strip()
        return
    qr = merchant_qr.read(text, KEY.verify_key)
    assert qr.merchant == "m-00000" and qr.name_ko == name.strip()[:25]
    assert 1 <= len(qr.name) <= 25 and 1 <= len(qr.city_name) <= 15

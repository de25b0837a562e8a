"""The A5 sticker printer (adapters/documents, WeasyPrint): the Korean name set in
NanumGothic, names escaped, one A5 page; without WeasyPrint a clear PdfUnavailable."""

from __future__ import annotations

import ctypes
import sys

import nacl.signing
import pypdfium2  # type: ignore[import-untyped]
import pypdfium2.raw as pdfium  # type: ignore[import-untyped]
import pytest
import zxingcpp

from localpay.adapters.documents.stickers import PdfUnavailable, WeasyStickerPrinter, sticker_html
from localpay.services.payments.qr import merchant_qr, render
from localpay.services.payments.qr.ports import Sticker

SHOP = merchant_qr.ShopFacts("gimpo", "m-00000", "bakery", "구래동 <행복> 빵집", "Bakery", "김포시")


def _sticker() -> Sticker:
    text = merchant_qr.payload(SHOP, nacl.signing.SigningKey(b"\x03" * 32))
    return Sticker(
        shop_name=SHOP.name_ko,
        shop_name_en=SHOP.name_en,
        city_name=SHOP.city_name_ko,
        merchant=SHOP.merchant,
        payload=text,
        qr_svg=render.svg_of_width(text, 90, title=SHOP.name_ko),
    )


def _fonts(page: object) -> set[str]:
    names = set()
    for obj in page.get_objects(filter=[pdfium.FPDF_PAGEOBJ_TEXT]):  # type: ignore[attr-defined]
        font = pdfium.FPDFTextObj_GetFont(obj)
        size = pdfium.FPDFFont_GetBaseFontName(font, None, 0)
        buffer = ctypes.create_string_buffer(size)
        pdfium.FPDFFont_GetBaseFontName(font, buffer, size)
        names.add(buffer.value.decode().partition("+")[2])  # without the subset's prefix
    return names


def test_one_a5_page_in_nanum_gothic_with_the_code() -> None:
    sticker = _sticker()
    pdf = pypdfium2.PdfDocument(WeasyStickerPrinter().a5_sticker(sticker))
    assert len(pdf) == 1
    page = pdf[0]
    width, height = page.get_size()
    assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (148, 210)  # A5 in mm
    assert {"NanumGothic", "NanumGothic-Bold"} <= _fonts(page)
    assert "구래동 <행복> 빵집" in page.get_textpage().get_text_range()
    assert [c.text for c in zxingcpp.read_barcodes(page.render(scale=2).to_pil())] == [
        sticker.payload
    ]


def test_names_are_escaped_in_the_html() -> None:
    html = sticker_html(_sticker())
    assert "구래동 &lt;행복&gt; 빵집" in html and "<행복>" not in html


def test_without_weasyprint_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # What a server without pango sees: the import fails (None in sys.modules makes it so).
    monkeypatch.setitem(sys.modules, "weasyprint", None)
    with pytest.raises(PdfUnavailable, match="PDF stickers need WeasyPrint and pango"):
        WeasyStickerPrinter().a5_sticker(_sticker())

"""The customer code's images (entrypoints/web/routes/wallet_code.py): the Code 128 bars
and the QR decode with zxing-cpp to the very digits, whatever the digits begin with."""

from __future__ import annotations

import base64
import io
import re

import pytest
import segno
import zxingcpp
from barcode.writer import ImageWriter  # type: ignore[import-untyped]
from PIL import Image

from localpay.entrypoints.web.routes.wallet_code import (
    QUIET_MODULES,
    DigitsCode128,
    barcode_data_uri,
    barcode_svg,
    qr_data_uri,
)

TAIL = "315827940199530552"


@pytest.mark.parametrize("lead", [f"{n:02d}" for n in range(100)])
def test_every_leading_pair_is_one_symbol_of_charset_c(lead: str) -> None:
    # "99" is the case python-barcode's own Code128 gets wrong (it drops it).
    digits = lead + TAIL
    pairs = [int(digits[i : i + 2]) for i in range(0, 20, 2)]
    assert DigitsCode128(digits).encoded == [105, *pairs]  # 105: START C


@pytest.mark.parametrize("digits", ["99" + TAIL, "00" + TAIL, "40213377008912345678"])
def test_the_bars_decode_to_the_digits(digits: str) -> None:
    # The same symbols drawn as pixels (python-barcode's image writer, from the same build).
    image = DigitsCode128(digits, writer=ImageWriter()).render(
        {"write_text": False, "module_width": 0.3, "dpi": 200}
    )
    assert [found.text for found in zxingcpp.read_barcodes(image)] == [digits]


def test_the_svg_draws_exactly_the_symbol_s_modules_inside_its_quiet_zones() -> None:
    digits = "99" + TAIL
    modules = DigitsCode128(digits).build()[0]
    svg = barcode_svg(digits)
    width = len(modules) + 2 * QUIET_MODULES
    assert f'viewBox="0 0 {width} 40"' in svg and f'width="{2 * width}"' in svg
    drawn = ["0"] * width
    for x, run in re.findall(r'<rect x="(\d+)" y="0" width="(\d+)" height="40"/>', svg):
        drawn[int(x) : int(x) + int(run)] = ["1"] * int(run)
    assert "".join(drawn) == "0" * QUIET_MODULES + modules + "0" * QUIET_MODULES


def test_the_barcode_is_an_svg_data_uri() -> None:
    uri = barcode_data_uri("99" + TAIL)
    prefix = "data:image/svg+xml;base64,"
    assert uri.startswith(prefix)
    assert base64.b64decode(uri[len(prefix) :]).decode() == barcode_svg("99" + TAIL)


def test_the_qr_is_a_full_qr_code_never_a_micro_one() -> None:
    digits = "99" + TAIL
    qr = segno.make_qr(digits, error="m", boost_error=False)
    assert (qr.designator, qr.is_micro) == ("1-M", False)
    out = io.BytesIO()
    qr.save(out, kind="png", scale=6)
    image = Image.open(io.BytesIO(out.getvalue()))
    assert [found.text for found in zxingcpp.read_barcodes(image)] == [digits]
    assert qr_data_uri(digits).startswith("data:image/svg+xml")

"""`localpay qr ...`: a shop's static QR code as a file (PNG, SVG, A5 sticker PDF, text),
reading a code back with whether its city signed it, and the city's QR public key.

The same service as the API and the counter page (services/payments/qr/static.py), over the
store, the directory and the key store of this installation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Final

import typer

from localpay import bootstrap
from localpay.adapters.documents.stickers import WeasyStickerPrinter
from localpay.entrypoints.cli.app import CityOpt, Settings, fail, opened, out
from localpay.services.payments.qr import merchant_qr
from localpay.services.payments.qr.static import Format, MerchantQrs

qr = typer.Typer(help="Shops' QR codes: make, print, read", no_args_is_help=True)
commands = typer.Typer()
commands.add_typer(qr, name="qr")

KINDS: Final[dict[str, Format]] = {".png": "png", ".svg": "svg", ".pdf": "pdf", ".txt": "text"}


@contextmanager
def _service(ctx: typer.Context) -> Iterator[MerchantQrs]:
    settings: Settings = ctx.obj
    with opened(ctx) as store:
        keys = bootstrap.open_keys(settings.db, settings.keys, settings.master_key)
        directory = bootstrap.open_directory(store)
        yield MerchantQrs(store, directory, keys, WeasyStickerPrinter())


@qr.command("static")
def make_static(
    ctx: typer.Context,
    city: CityOpt,
    merchant: Annotated[str, typer.Option("--merchant", help="The shop's id, e.g. m-00000")],
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="file.png, file.svg, file.pdf (A5 sticker) or file.txt"),
    ] = None,
) -> None:
    """A shop's static QR code: written to --out (its kind by the suffix), else its text."""
    kind: Format = "text"
    if out_file is not None:
        found = KINDS.get(out_file.suffix.lower())
        if found is None:
            fail(f"--out {out_file}: the name must end in .png, .svg, .pdf or .txt", 2)
        kind = found
    with _service(ctx) as service:
        body = service.image(city, merchant, kind)
    if out_file is None:
        out.print(body.decode("utf-8"), highlight=False, soft_wrap=True)
        return
    try:
        out_file.write_bytes(body)
    except OSError as exc:
        fail(f"cannot write {out_file}: {exc.strerror or exc}", 2)
    out.print(f"{out_file}: {merchant}'s QR code ({kind}, {len(body)} bytes)", highlight=False)


@qr.command("read")
def read(
    ctx: typer.Context,
    payload: Annotated[str | None, typer.Argument(help="The code's text")] = None,
    image: Annotated[
        Path | None, typer.Option("--image", help="A picture of the code (PNG, JPEG)")
    ] = None,
) -> None:
    """Print a code's fields and whether its city signed it; exit 1 if it does not verify."""
    if payload is not None and image is None:
        text = payload
    elif image is not None and payload is None:
        text = _decode_image(image)
    else:
        fail("give the code's text or --image, one of them", 2)
    try:
        city = merchant_qr.decode(text).city
    except merchant_qr.QrError as e:
        fail(f"not verified: {e.reason}")
    with _service(ctx) as service:
        found = service.read(city, text)
    if found.qr is not None:
        for label, value in (
            ("city", found.qr.city),
            ("merchant", found.qr.merchant),
            ("initiation", "static (11)" if found.qr.initiation == "11" else "dynamic (12)"),
            ("name", f"{found.qr.name_ko} ({found.qr.name})"),
            ("city name", f"{found.qr.city_name_ko} ({found.qr.city_name})"),
            ("category code", found.qr.mcc),
            ("amount", "" if found.qr.amount is None else f"{found.qr.amount:,} won"),
            ("reference", found.qr.reference),
        ):
            if value:
                out.print(f"{label:<14} {value}", highlight=False)
    if not found.verified:
        fail(f"not verified: {found.reason}")
    out.print("verified       yes: signed by the city", highlight=False)


@qr.command("key")
def key(ctx: typer.Context, city: CityOpt) -> None:
    """The city's QR public key (hex), as GET /v1/cities/{city}/qr/key serves it."""
    with _service(ctx) as service:
        out.print(service.verify_key_hex(city), highlight=False)


def _decode_image(path: Path) -> str:
    """The text of the one QR code in a picture. zxing-cpp and Pillow are optional here
    (the server never needs them): say so if they are missing."""
    try:
        import zxingcpp  # noqa: PLC0415 (optional: only this command reads pictures)
        from PIL import Image, UnidentifiedImageError  # noqa: PLC0415
    except ImportError:
        fail("reading a picture needs the zxing-cpp and pillow packages", 2)
    try:
        with Image.open(path) as picture:
            found = [
                code
                for code in zxingcpp.read_barcodes(picture)
                if code.format == zxingcpp.BarcodeFormat.QRCode
            ]
    except (OSError, UnidentifiedImageError) as exc:
        fail(f"cannot read the picture {path}: {exc}", 2)
    if len(found) != 1:
        fail(f"{path}: {len(found)} QR codes found, expected one", 2)
    return str(found[0].text)

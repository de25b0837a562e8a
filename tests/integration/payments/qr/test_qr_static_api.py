"""The static QR over a real server and socket, on SQLite and PostgreSQL: the shop's staff
fetch the code (PNG, SVG, sticker PDF, text), decode it and a wallet pays it; the city's key
verifies it offline; a forged code reads as not verified; other shops, cities and citizens
get 404."""

from __future__ import annotations

import io
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import nacl.signing
import pypdfium2  # type: ignore[import-untyped]
import pytest
import zxingcpp
from PIL import Image

from localpay.bootstrap import Container
from localpay.services.payments.qr import emvco, merchant_qr
from localpay.testing.servers import World, live_container, pay_over_http, seeded_store

CITY = "gimpo"
SHOP = "m-00000"
CODE = f"/v1/cities/{CITY}/merchants/{SHOP}/qr"


@dataclass
class Site:
    world: World
    box: Container
    keys: Path

    def as_role(self, role: str, city: str = CITY) -> httpx.Client:
        return self.world.client(self.world.tokens[city][role])


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("qrstatic")
    url = seeded_store(request, folder)
    with live_container(url, folder / "keys") as (base, box, _):
        world = World(base, folder / "keys")
        world.sign_in_everyone()
        yield Site(world, box, folder / "keys")


def _read(client: httpx.Client, payload: str, city: str = CITY) -> httpx.Response:
    return client.post(
        f"/v1/cities/{city}/qr/read",
        json={"payload": payload},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )


def _decoded(picture: Image.Image) -> str:
    found = zxingcpp.read_barcodes(picture)
    assert len(found) == 1 and found[0].format == zxingcpp.BarcodeFormat.QRCode
    return str(found[0].text)


def test_the_png_decodes_verifies_and_is_paid(site: Site) -> None:
    with site.as_role("merchant_owner") as owner, site.world.client() as wallet:
        png = owner.get(CODE)
        assert png.status_code == 200, png.text
        assert png.headers["content-type"] == "image/png"
        assert png.headers["content-disposition"] == f'inline; filename="qr-{CITY}-{SHOP}.png"'
        text = _decoded(Image.open(io.BytesIO(png.content)))
        read = _read(wallet, text)  # the wallet asks before paying: no sign-in needed
        assert read.status_code == 200, read.text
        body = read.json()
        assert body["verified"] is True and body["reason"] == ""
        assert body["qr"]["merchant"] == SHOP and body["qr"]["initiation"] == "11"
        assert body["qr"]["amount"] is None
        assert body["shop"]["merchant"] == SHOP and body["shop"]["status"] == "active"
        assert body["shop"]["name"] == body["qr"]["name_ko"]
        # The wallet pays the shop the code names (the amount is the payer's).
        receipt = pay_over_http(site.world.base, site.keys, 1_500, merchant=body["qr"]["merchant"])
        assert receipt["code"] == "ok"


def test_the_sticker_pdf_decodes_to_the_same_code(site: Site) -> None:
    with site.as_role("merchant_cashier") as cashier:
        text = cashier.get(CODE, params={"format": "text"}).text
        pdf = cashier.get(CODE, params={"format": "pdf", "download": "true"})
        assert pdf.status_code == 200, pdf.text
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.headers["content-disposition"].startswith("attachment;")
        page = pypdfium2.PdfDocument(pdf.content)[0]
        assert _decoded(page.render(scale=2).to_pil()) == text
        svg = cashier.get(CODE, params={"format": "svg"})
        assert svg.headers["content-type"].startswith("image/svg+xml")
        assert svg.text.startswith("<svg")
        emvco.parse(text)


def test_the_citys_key_verifies_offline(site: Site) -> None:
    with site.world.client() as anyone, site.as_role("merchant_api") as pos:
        found = anyone.get(f"/v1/cities/{CITY}/qr/key")
        assert found.status_code == 200, found.text
        key = found.json()
        assert key["algorithm"] == "ed25519"
        assert key["message"] == "localpay/qr/v1\n{city}\n{merchant}"
        text = pos.get(CODE, params={"format": "text"}).text  # the POS's own API key
        verify_key = nacl.signing.VerifyKey(bytes.fromhex(key["key"]))
        assert merchant_qr.read(text, verify_key).merchant == SHOP
        other = anyone.get("/v1/cities/yangju/qr/key").json()["key"]
        assert other != key["key"]  # each city signs with its own key
        with pytest.raises(merchant_qr.QrError, match="signature does not verify"):
            merchant_qr.read(text, nacl.signing.VerifyKey(bytes.fromhex(other)))
        assert anyone.get("/v1/cities/nowhere/qr/key").status_code == 404


def test_forged_and_foreign_codes_read_as_not_verified(site: Site) -> None:
    with site.world.client() as wallet, site.as_role("merchant_owner", "yangju") as yangju:
        facts = site.box.merchant_qrs.facts(CITY, SHOP)
        forged = merchant_qr.payload(facts, nacl.signing.SigningKey.generate())
        body = _read(wallet, forged).json()
        assert body["verified"] is False and body["reason"] == "signature does not verify"
        assert body["shop"] is None and body["qr"]["merchant"] == SHOP
        theirs = yangju.get(f"/v1/cities/yangju/merchants/{SHOP}/qr", params={"format": "text"})
        assert theirs.status_code == 200
        foreign = _read(wallet, theirs.text).json()
        assert foreign["verified"] is False and "another city" in foreign["reason"]
        junk = _read(wallet, "hello").json()
        assert junk["verified"] is False and junk["qr"] is None
        assert "not a valid payment QR code" in junk["reason"]
        too_long = _read(wallet, "0" * 2000)
        assert too_long.status_code == 422
        no_city = _read(wallet, forged, city="nowhere")
        assert no_city.status_code == 404


@pytest.mark.parametrize(
    ("role", "city", "path"),
    [
        ("merchant_owner", CITY, f"/v1/cities/{CITY}/merchants/m-00001/qr"),  # another shop
        ("merchant_api", CITY, f"/v1/cities/{CITY}/merchants/m-00001/qr"),
        ("citizen", CITY, CODE),
        ("merchant_owner", "yangju", CODE),  # the same shop id in another city
        ("city_maker", "yangju", CODE),
        ("operator_admin", "*", CODE),
    ],
)
def test_others_get_404(site: Site, role: str, city: str, path: str) -> None:
    with site.as_role(role, city) as client:
        answer = client.get(path)
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_officials_and_anonymous(site: Site) -> None:
    with site.as_role("city_maker") as maker, site.as_role("city_auditor") as auditor:
        assert maker.get(f"/v1/cities/{CITY}/merchants/m-00001/qr").status_code == 200
        assert auditor.get(CODE, params={"format": "text"}).status_code == 200
        missing = maker.get(f"/v1/cities/{CITY}/merchants/m-99999/qr")
        assert missing.status_code == 404
        bad = maker.get(CODE, params={"format": "gif"})
        assert bad.status_code == 422
    with site.world.client() as anyone:
        assert anyone.get(CODE).status_code == 401


def test_without_weasyprint_the_sticker_is_503_and_the_rest_works(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # as on a server without pango
    with site.as_role("merchant_owner") as owner:
        pdf = owner.get(CODE, params={"format": "pdf"})
        assert pdf.status_code == 503, pdf.text
        assert pdf.json()["code"] == "pdf_unavailable" and "pango" in pdf.json()["detail"]
        assert pdf.headers["retry-after"]
        assert owner.get(CODE).status_code == 200  # the PNG needs no WeasyPrint

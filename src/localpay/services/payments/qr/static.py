"""The shops' merchant-presented QR codes as the surfaces use them: the code of a shop (its
text, PNG, SVG, A5 sticker), the city's public key that verifies codes offline, and reading a
scanned code with the shop it names.

The signing key is the city's own, "qr" in the key store (made on first use); the names come
from the directory (services/directory) and the city's Korean name from its genesis. The
dynamic QR (requests.py) takes `payload` with an amount and a reference.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Final, Literal

import nacl.signing

from localpay.domain.errors import NotFound
from localpay.ledger.ports import Store
from localpay.services.cities.inspect import require_city
from localpay.services.directory.service import Directory, Shop
from localpay.services.payments.qr import merchant_qr, render
from localpay.services.payments.qr.merchant_qr import MerchantQr, QrError, ShopFacts
from localpay.services.payments.qr.ports import QrKeys, Sticker, StickerPrinter

#: The key store's name of each city's QR signing key.
KEY_NAME: Final = "qr"
#: The QR on the A5 sticker, quiet zone included (A5 is 148 mm wide); the template agrees.
STICKER_QR_MM: Final = 90.0

Format = Literal["png", "svg", "pdf", "text"]
MEDIA_TYPES: Final[dict[str, str]] = {
    "png": "image/png",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
    "text": "text/plain; charset=utf-8",
}


class NoSuchShop(NotFound):
    code = "merchant_not_found"


@dataclass(frozen=True)
class Reading:
    """A scanned code as the wallet is told about it. `verified` False: do not pay; `reason`
    says why. `shop` is the directory's entry of the merchant the code names (when it is a
    code of this city and the shop exists), for the wallet to show."""

    verified: bool
    reason: str
    qr: MerchantQr | None
    shop: Shop | None


class MerchantQrs:
    def __init__(
        self, store: Store, directory: Directory, keys: QrKeys, printer: StickerPrinter
    ) -> None:
        self.store, self.directory, self.keys, self.printer = store, directory, keys, printer
        self._signing: dict[str, nacl.signing.SigningKey] = {}
        self._city_names: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- keys and names -----------------------------------------------------------------

    def _key(self, city: str) -> nacl.signing.SigningKey:
        """The city's QR key, opened once per process (a wallet's scan must not wait for a
        key file)."""
        with self._lock:
            found = self._signing.get(city)
            if found is None:
                self.city_name(city)  # no key is ever made for a city that does not exist
                found = self._signing[city] = self.keys.get_or_create(city, KEY_NAME)
            return found

    def verify_key(self, city: str) -> nacl.signing.VerifyKey:
        return self._key(city).verify_key

    def verify_key_hex(self, city: str) -> str:
        return bytes(self.verify_key(city)).hex()

    def city_name(self, city: str) -> str:
        """The city's Korean name, from its genesis (NotFound for no such city)."""
        found = self._city_names.get(city)
        if found is None:
            found = self._city_names[city] = require_city(self.store, city).name
        return found

    def shop(self, city: str, merchant: str) -> Shop:
        found = self.directory.shop(city, merchant)
        if found is None:
            raise NoSuchShop(f"no merchant {merchant!r} in {city!r}")
        return found

    def facts(self, city: str, merchant: str) -> ShopFacts:
        shop = self.shop(city, merchant)
        return ShopFacts(
            city, merchant, shop.category, shop.name, shop.name_en, self.city_name(city)
        )

    # -- making ---------------------------------------------------------------------------

    def payload(
        self, city: str, merchant: str, amount: int | None = None, reference: str = ""
    ) -> str:
        """The shop's code text: static, or dynamic with `amount` and `reference`."""
        facts = self.facts(city, merchant)
        return merchant_qr.payload(facts, self._key(city), amount, reference)

    def image(self, city: str, merchant: str, kind: Format) -> bytes:
        """The shop's static code as `kind`: png, svg, pdf (the A5 sticker) or text."""
        text = self.payload(city, merchant)
        if kind == "png":
            return render.png(text)
        if kind == "svg":
            return render.svg(text, title=self.shop(city, merchant).name).encode("utf-8")
        if kind == "pdf":
            return self.sticker(city, merchant)
        return text.encode("utf-8")

    def sticker(self, city: str, merchant: str) -> bytes:
        shop = self.shop(city, merchant)
        text = self.payload(city, merchant)
        sticker = Sticker(
            shop_name=shop.name,
            shop_name_en=shop.name_en,
            city_name=self.city_name(city),
            merchant=merchant,
            payload=text,
            qr_svg=render.svg_of_width(text, STICKER_QR_MM, title=shop.name),
        )
        return self.printer.a5_sticker(sticker)

    # -- reading --------------------------------------------------------------------------

    def read(self, city: str, text: str) -> Reading:
        """What a wallet of `city` learns from a scanned code: whether this city signed it,
        and the shop. A code of another city is not verified here (its own city's wallet
        pays it)."""
        try:
            qr = merchant_qr.decode(text)
        except QrError as e:
            return Reading(False, e.reason, None, None)
        if qr.city != city:
            return Reading(False, f"this is a code of another city ({qr.city})", qr, None)
        try:
            merchant_qr.verify(qr, self.verify_key(city))
        except QrError as e:
            return Reading(False, e.reason, qr, None)
        shop = self.directory.shop(city, qr.merchant)
        if shop is None:
            return Reading(False, "the shop of this code is not registered", qr, None)
        return Reading(True, "", qr, shop)

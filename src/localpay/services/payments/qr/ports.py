"""What the static merchant QR needs from outside: the city's signing key and a printer of
A5 stickers (adapters/documents: WeasyPrint)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import nacl.signing


@dataclass(frozen=True)
class Sticker:
    """One shop's counter sticker: the shop's Korean name large, its code, the city."""

    shop_name: str  # Korean, as the shop's sign says
    shop_name_en: str
    city_name: str  # Korean, e.g. 김포시
    merchant: str
    payload: str  # the EMVCo text the QR carries
    qr_svg: str  # the QR as an SVG document (vector: sharp at any print size)


class StickerPrinter(Protocol):
    def a5_sticker(self, sticker: Sticker) -> bytes:
        """The sticker as a one-page A5 PDF."""
        ...


class QrKeys(Protocol):
    def get_or_create(self, city: str, name: str) -> nacl.signing.SigningKey:
        """The city's key of that name (made on first use), e.g. "qr"."""
        ...

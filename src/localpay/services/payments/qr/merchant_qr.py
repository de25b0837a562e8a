"""Our merchant-presented QR (EMVCo MPM): the payload of a shop's code, and reading one back.

Layout (docs/qr.md has the table):
  00 "01" · 01 "11" static / "12" dynamic · 26 {00 GUID, 01 city, 02 merchant} · 52 MCC ·
  53 "410" · 54 amount (dynamic only, whole won) · 58 "KR" · 59 name and 60 city, romanized
  printable ASCII · 62 {05 reference} (dynamic only) · 64 {00 "KO", 01 name, 02 city} ·
  80 {00 GUID, 01 the city's signature} · 63 CRC.

The anti-forgery element (80/01) is the city's Ed25519 signature over
SIGNED_PREFIX + city + "\\n" + merchant, base85 (80 characters): a sticker printed by anyone
else, or one whose merchant was changed, fails `read`, and the wallet refuses to pay it.
The signature binds the shop, not an amount: a dynamic code's amount and reference are
checked by the server's payment request (requests.py), never trusted from the picture.

Pure: the keys are given, the names come from the caller (static.py reads the directory).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final, Literal

import nacl.exceptions
import nacl.signing
from korean_romanizer.romanizer import Romanizer  # type: ignore[import-untyped]

from localpay.domain.errors import Refused
from localpay.services.payments.qr import emvco

#: Our globally unique identifier (reverse domain), in 26/00 and 80/00.
GUID: Final = "kr.localpay"
SIGNED_PREFIX: Final = b"localpay/qr/v1\n"
STATIC: Final = "11"
DYNAMIC: Final = "12"
COUNTRY: Final = "KR"
LANGUAGE: Final = "KO"
NAME_MAX: Final = 25  # 59 and 64/01
CITY_MAX: Final = 15  # 60 and 64/02
SIGNATURE_CHARS: Final = 80  # base85 of 64 bytes

#: Our merchant categories (the chain's labels) -> ISO 18245 merchant category codes.
MCC: Final[dict[str, str]] = {
    "restaurant": "5812",  # eating places, restaurants
    "cafe": "5814",  # fast food, coffee shops
    "grocery": "5411",  # grocery stores, supermarkets
    "bakery": "5462",  # bakeries
    "academy": "8299",  # schools and educational services
    "clinic": "8011",  # doctors
    "pharmacy": "5912",  # drug stores and pharmacies
    "beauty": "7230",  # beauty and barber shops
    "clothing": "5651",  # family clothing stores
    "fuel": "5541",  # service stations
    "market": "5499",  # miscellaneous food stores
    "postpartum_care": "8099",  # medical services
    "baby_goods": "5641",  # children's and infants' wear
    "department_store": "5311",  # department stores
    "large_mart": "5411",
    "corporate_supermarket": "5411",
    "entertainment": "5813",  # bars, night clubs
}
DEFAULT_MCC: Final = "5499"


class QrError(Refused):
    """A code the wallet must not pay: not ours, malformed, or forged. `reason` says why."""

    code = "qr_invalid"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ShopFacts:
    """What a shop's code says about it (from the directory and the city's genesis)."""

    city: str
    merchant: str
    category: str
    name_ko: str
    name_en: str
    city_name_ko: str


@dataclass(frozen=True)
class MerchantQr:
    """A code read back: who it names, and for a dynamic code the amount and reference."""

    city: str
    merchant: str
    initiation: Literal["11", "12"]
    mcc: str
    name: str
    city_name: str
    name_ko: str
    city_name_ko: str
    amount: int | None
    reference: str
    signature: str


def mcc_of(category: str) -> str:
    return MCC.get(category, DEFAULT_MCC)


def signed_message(city: str, merchant: str) -> bytes:
    return SIGNED_PREFIX + city.encode() + b"\n" + merchant.encode()


def sign(key: nacl.signing.SigningKey, city: str, merchant: str) -> str:
    """The 80 characters of 80/01."""
    return base64.b85encode(key.sign(signed_message(city, merchant)).signature).decode("ascii")


def romanize(text: str, limit: int) -> str:
    """Printable ASCII for 59 and 60: Hangul romanized (Revised Romanization), words
    capitalized, anything else outside ASCII dropped, cut to `limit` at a word if it can."""
    roman = " ".join(_romanized(word) for word in text.split())
    ascii_only = "".join(ch for ch in roman if " " <= ch <= "~")
    words = [w[:1].upper() + w[1:] for w in ascii_only.split()]
    return _cut(" ".join(words), limit)


def _romanized(word: str) -> str:
    """korean-romanizer applies the pronunciation rules across a word but fails on some
    syllables (a KeyError on 않, found by the fuzz test): then letter by letter, dropping
    what it cannot do."""
    try:
        return str(Romanizer(word).romanize())
    except (KeyError, IndexError, ValueError):
        pass
    out = ""
    for ch in word:
        try:
            out += str(Romanizer(ch).romanize())
        except (KeyError, IndexError, ValueError):
            continue
    return out


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[:limit]
    return head.rsplit(" ", 1)[0] if " " in head else head


def display_name(shop: ShopFacts) -> str:
    """59: the directory's English name when it has one in ASCII, else the romanized
    Korean name; the merchant id if neither gives anything."""
    english = shop.name_en.strip()
    if english and english != shop.merchant and all(" " <= ch <= "~" for ch in english):
        return _cut(english, NAME_MAX)
    return romanize(shop.name_ko, NAME_MAX) or shop.merchant[:NAME_MAX]


def payload(
    shop: ShopFacts,
    key: nacl.signing.SigningKey,
    amount: int | None = None,
    reference: str = "",
) -> str:
    """The shop's code: static without an amount, dynamic ("12") with `amount` (whole won)
    and `reference` (62/05)."""
    if (amount is None) != (reference == ""):
        raise QrError("a dynamic code needs both an amount and a reference")
    merchant_info = [("00", GUID), ("01", shop.city), ("02", shop.merchant)]
    language = [("00", LANGUAGE), ("01", shop.name_ko.strip()[:NAME_MAX])]
    if shop.city_name_ko.strip():
        language.append(("02", shop.city_name_ko.strip()[:CITY_MAX]))
    elements: list[tuple[str, emvco.Value]] = [
        ("00", "01"),
        ("01", STATIC if amount is None else DYNAMIC),
        ("26", merchant_info),
        ("52", mcc_of(shop.category)),
        ("53", emvco.KRW),
    ]
    if amount is not None:
        elements.append(("54", str(amount)))
    elements += [
        ("58", COUNTRY),
        ("59", display_name(shop)),
        ("60", romanize(shop.city_name_ko, CITY_MAX) or shop.city[:CITY_MAX]),
    ]
    if reference:
        elements.append(("62", [("05", reference)]))
    elements += [
        ("64", language),
        ("80", [("00", GUID), ("01", sign(key, shop.city, shop.merchant))]),
    ]
    try:
        return emvco.encode(elements)
    except emvco.EmvError as e:
        raise QrError(f"cannot make this shop's code: {e.reason}") from None


def decode(text: str) -> MerchantQr:
    """The fields of one of our codes, checked for form but NOT for the signature: `read`
    is what a wallet calls."""
    try:
        fields = emvco.parse(text.strip())
    except emvco.EmvError as e:
        raise QrError(f"not a valid payment QR code: {e}") from None
    account = _template(fields, "26", "this is not a localpay code (no 26 of ours)")
    stamp = _template(fields, "80", "this code carries no city signature")
    city, merchant = account.get("01", ""), account.get("02", "")
    if not city or not merchant:
        raise QrError("this code names no city or no merchant")
    if fields.get("53") != emvco.KRW or fields.get("58") != COUNTRY:
        raise QrError("this code is not for payment in won in Korea")
    language = fields.get("64")
    name_ko = language.get("01", "") if isinstance(language, dict) else ""
    city_ko = language.get("02", "") if isinstance(language, dict) else ""
    initiation = fields.get("01", STATIC)
    amount = _amount(fields, initiation)
    extra = fields.get("62")
    reference = extra.get("05", "") if isinstance(extra, dict) else ""
    if initiation == DYNAMIC and not reference:
        raise QrError("a dynamic code without its reference (62/05)")
    return MerchantQr(
        city=city,
        merchant=merchant,
        initiation=DYNAMIC if initiation == DYNAMIC else STATIC,
        mcc=str(fields["52"]),
        name=str(fields["59"]),
        city_name=str(fields["60"]),
        name_ko=name_ko,
        city_name_ko=city_ko,
        amount=amount,
        reference=reference,
        signature=stamp.get("01", ""),
    )


def _template(fields: emvco.Parsed, tag: str, missing: str) -> dict[str, str]:
    found = fields.get(tag)
    if not isinstance(found, dict) or found.get("00") != GUID:
        raise QrError(missing)
    return found


def _amount(fields: emvco.Parsed, initiation: object) -> int | None:
    raw = fields.get("54")
    if initiation == DYNAMIC and raw is None:
        raise QrError("a dynamic code without an amount (54)")
    if initiation != DYNAMIC and raw is not None:
        raise QrError("a static code with an amount: the amount must come from the payer")
    return int(raw) if isinstance(raw, str) else None


def verify(qr: MerchantQr, key: nacl.signing.VerifyKey) -> None:
    """QrError("signature does not verify") unless the city's key signed this shop."""
    if not re.fullmatch(r"[0-9A-Za-z!#$%&()*+\-;<=>?@^_`{|}~]{80}", qr.signature):
        raise QrError("signature does not verify")
    try:
        raw = base64.b85decode(qr.signature)
        key.verify(signed_message(qr.city, qr.merchant), raw)
    except (ValueError, binascii.Error, nacl.exceptions.BadSignatureError):
        raise QrError("signature does not verify") from None


def read(text: str, key: nacl.signing.VerifyKey) -> MerchantQr:
    """A code the wallet may pay: ours, well formed, signed by the city whose public key
    `key` is. Anything else is QrError with the reason."""
    qr = decode(text)
    verify(qr, key)
    return qr

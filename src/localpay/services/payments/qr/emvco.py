"""EMVCo QR Code Specification for Payment Systems, Merchant-Presented Mode (MPM): a TLV
encoder and a strict parser. Pure: no I/O.

A payload is a run of data objects, each ID (2 digits), length (2 digits, counting
characters, not bytes: the language template carries Korean), value (1 to 99 characters).
Some IDs are templates whose value is itself a run of data objects. The payload starts with
00 (payload format indicator, "01") and ends with 63, the CRC-16/CCITT-FALSE over the UTF-8
bytes of everything before it including "6304", as four uppercase hex digits.

No well-kept Python library does MPM generally, so this one is ours (issue 13). The parser is
strict because a wallet acts on what it returns: anything it accepts, it can explain; anything
else is an `EmvError` naming the character position and the reason.
"""

from __future__ import annotations

import binascii
import re
import unicodedata
from collections.abc import Sequence

from localpay.domain.errors import Refused

MAX_PAYLOAD = 512  # characters; the spec's upper bound for a whole payload
CRC_ID = "63"
CRC_TAG = "6304"

Value = str | Sequence[tuple[str, str]]
Parsed = dict[str, str | dict[str, str]]


class EmvError(Refused, ValueError):
    """A payload or element that breaks the spec: `position` is the character index where the
    fault is (in the payload being parsed, or in the payload `encode` was building), `reason`
    says what is wrong in plain words."""

    code = "qr_invalid"

    def __init__(self, reason: str, position: int = 0) -> None:
        super().__init__(f"at character {position}: {reason}")
        self.reason = reason
        self.position = position


def crc16(data: bytes) -> str:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor): the CRC of
    ID 63, as four uppercase hex digits."""
    return f"{binascii.crc_hqx(data, 0xFFFF):04X}"


def is_template(tag: str) -> bool:
    """IDs whose value is a run of sub-elements: merchant account information templates
    (26-51), additional data (62), merchant information in another language (64) and the
    unreserved templates (80-99). 02-25 are primitive (card networks' own formats)."""
    n = int(tag)
    return 26 <= n <= 51 or n in (62, 64) or 80 <= n <= 99


# --- encoding -----------------------------------------------------------------------------


def encode(elements: Sequence[tuple[str, Value]]) -> str:
    """The payload of `elements` (in the order given; 00 first), with 63 (the CRC) appended.
    Templates take their sub-elements as a list of (id, value). The result is checked by
    `parse`, so `encode` never returns a payload that `parse` would refuse."""
    if not elements or elements[0][0] != "00":
        raise EmvError("00 (payload format indicator) must come first", 0)
    out: list[str] = []
    at = 0
    for tag, value in elements:
        if tag == CRC_ID:
            raise EmvError("63 (CRC) is added by encode, it must not be given", at)
        piece = _encode_element(tag, value, at)
        out.append(piece)
        at += len(piece)
    body = "".join(out) + CRC_TAG
    payload = body + crc16(body.encode("utf-8"))
    parse(payload)
    return payload


def _encode_element(tag: str, value: Value, at: int) -> str:
    _check_id(tag, at)
    if is_template(tag):
        if isinstance(value, str):
            raise EmvError(f"{tag} is a template: give its sub-elements", at)
        inner = ""
        for sub, sub_value in value:
            _check_id(sub, at)
            if not isinstance(sub_value, str):
                raise EmvError(f"{tag}/{sub}: templates do not nest", at)
            inner += _tlv(sub, sub_value, at)
        return _tlv(tag, inner, at)
    if not isinstance(value, str):
        raise EmvError(f"{tag} is not a template: give a string", at)
    return _tlv(tag, value, at)


def _tlv(tag: str, value: str, at: int) -> str:
    if not 1 <= len(value) <= 99:
        raise EmvError(f"{tag}: length {len(value)} is out of range (1-99 characters)", at)
    return f"{tag}{len(value):02d}{value}"


def _check_id(tag: str, at: int) -> None:
    if len(tag) != 2 or not _digits(tag):
        raise EmvError(f"ID {tag!r} is not two digits", at)


# --- parsing ------------------------------------------------------------------------------


def parse(payload: str) -> Parsed:
    """The data objects of `payload` by ID (templates as dicts of their sub-elements), or
    EmvError. Checks, in order: the TLV structure, 00 = "01" first and 63 last, the CRC, then
    every value against the spec."""
    if not isinstance(payload, str):
        raise EmvError("the payload is not text", 0)
    if len(payload) > MAX_PAYLOAD:
        raise EmvError(f"payload is {len(payload)} characters, more than {MAX_PAYLOAD}", 0)
    raw = split(payload, 0)
    if not raw or raw[0][0] != "00":
        raise EmvError("00 (payload format indicator) must come first", 0)
    last_tag, last_at, last_value = raw[-1]
    if last_tag != CRC_ID:
        raise EmvError("63 (CRC) must come last", last_at)
    _check_crc(payload, last_at, last_value)
    result: Parsed = {}
    for tag, at, value in raw:
        result[tag] = _parse_value(tag, value, at + 4)
    _check_root(result, raw)
    return result


def split(text: str, base: int) -> list[tuple[str, int, str]]:
    """(id, position, value) of each data object in `text`, which starts at `base` in the
    payload. Every step consumes at least four characters, so it always ends."""
    items: list[tuple[str, int, str]] = []
    seen: set[str] = set()
    i = 0
    while i < len(text):
        at = base + i
        head = text[i : i + 4]
        if len(head) < 4:
            raise EmvError("truncated data object: an ID and a length need 4 characters", at)
        tag, length = head[:2], head[2:]
        if not _digits(tag):
            raise EmvError(f"ID {tag!r} is not two digits", at)
        if not _digits(length):
            raise EmvError(f"{tag}: length {length!r} is not two digits", at + 2)
        n = int(length)
        if n == 0:
            raise EmvError(f"{tag}: length 00 is out of range (01-99)", at + 2)
        if i + 4 + n > len(text):
            raise EmvError(f"{tag}: length {n} runs past the end of its data", at + 2)
        if tag in seen:
            raise EmvError(f"{tag} appears twice", at)
        seen.add(tag)
        items.append((tag, at, text[i + 4 : i + 4 + n]))
        i += 4 + n
    return items


def _check_crc(payload: str, at: int, value: str) -> None:
    if len(value) != 4 or not re.fullmatch(r"[0-9A-F]{4}", value):
        raise EmvError(f"63: CRC {value!r} is not four uppercase hex digits", at)
    try:
        data = payload[: at + 4].encode("utf-8")
    except UnicodeEncodeError as e:
        raise EmvError("the payload is not valid Unicode text", e.start) from None
    expected = crc16(data)
    if expected != value:
        raise EmvError(f"CRC mismatch: {expected} expected, {value} found", at + 4)


def _parse_value(tag: str, value: str, at: int) -> str | dict[str, str]:
    if not is_template(tag):
        _check_ascii(tag, value, at)
        return value
    subs = split(value, at)
    if tag != "64":
        for sub, sub_at, sub_value in subs:
            _check_ascii(f"{tag}/{sub}", sub_value, sub_at + 4)
    parsed = {sub: sub_value for sub, _, sub_value in subs}
    _check_template(tag, parsed, at)
    return parsed


def _check_template(tag: str, subs: dict[str, str], at: int) -> None:
    n = int(tag)
    if (26 <= n <= 51 or n >= 80) and "00" not in subs:
        raise EmvError(f"{tag}: template without 00 (globally unique identifier)", at)
    if (26 <= n <= 51 or n >= 80) and len(subs["00"]) > 32:
        raise EmvError(f"{tag}/00: identifier longer than 32 characters", at)
    if tag == "62":
        for sub, value in subs.items():
            if 1 <= int(sub) <= 9 and len(value) > 25:
                raise EmvError(f"62/{sub}: longer than 25 characters", at)
    if tag == "64":
        _check_language(subs, at)


def _check_language(subs: dict[str, str], at: int) -> None:
    """64: language preference (ISO 639-1, two letters), the merchant's name (<= 25) and
    optionally city (<= 15) in that language. Any script, but no control, format or
    unassigned characters, nor line breaks (str.isprintable would also refuse a no-break
    space, which a shop's name may have)."""
    if not re.fullmatch(r"[A-Za-z]{2}", subs.get("00", "")):
        raise EmvError("64: 00 (language) must be two letters, e.g. KO", at)
    if "01" not in subs:
        raise EmvError("64: 01 (merchant name in that language) is missing", at)
    if len(subs["01"]) > 25:
        raise EmvError("64/01: merchant name longer than 25 characters", at)
    if len(subs.get("02", "")) > 15:
        raise EmvError("64/02: merchant city longer than 15 characters", at)
    for sub, value in subs.items():
        if any(unicodedata.category(ch)[0] == "C" or ch in "\u2028\u2029" for ch in value):
            raise EmvError(f"64/{sub}: control characters are not allowed", at)


_FORMATS: dict[str, tuple[str, str]] = {
    "00": (r"01", '00 (payload format indicator) must be "01"'),
    "01": (r"1[12]", '01 (point of initiation) must be "11" (static) or "12" (dynamic)'),
    "52": (r"[0-9]{4}", "52 (merchant category code) must be 4 digits"),
    "53": (r"[0-9]{3}", "53 (currency) must be 3 digits (ISO 4217 numeric)"),
    "54": (r"(0|[1-9][0-9]*)(\.[0-9]+)?", "54 (amount) must be a decimal number like 12000"),
    "55": (r"0[123]", '55 (tip indicator) must be "01", "02" or "03"'),
    "56": (r"(0|[1-9][0-9]*)(\.[0-9]+)?", "56 (convenience fee) must be a decimal number"),
    "57": (r"[0-9]{1,2}(\.[0-9]{1,2})?", "57 (fee percentage) must be like 3.5"),
    "58": (r"[A-Z]{2}", "58 (country) must be two capital letters, e.g. KR"),
}
_MAX_LENGTHS = {"54": 13, "56": 13, "57": 5, "59": 25, "60": 15, "61": 10}
_MANDATORY = {
    "52": "52 (merchant category code)",
    "53": "53 (currency)",
    "58": "58 (country)",
    "59": "59 (merchant name)",
    "60": "60 (merchant city)",
}
KRW = "410"


def _check_root(result: Parsed, raw: list[tuple[str, int, str]]) -> None:
    where = {tag: at for tag, at, _ in raw}
    for tag, at, value in raw:
        limit = _MAX_LENGTHS.get(tag)
        if limit is not None and len(value) > limit:
            raise EmvError(f"{tag}: longer than {limit} characters", at)
        rule = _FORMATS.get(tag)
        if rule is not None and not re.fullmatch(rule[0], value):
            raise EmvError(rule[1], at)
    for tag, name in _MANDATORY.items():
        if tag not in result:
            raise EmvError(f"{name} is missing", 0)
    if not any(2 <= int(tag) <= 51 for tag in result):
        raise EmvError("no merchant account information (IDs 02-51)", 0)
    amount = result.get("54")
    if amount is not None and result["53"] == KRW and not re.fullmatch(r"[1-9][0-9]*", str(amount)):
        raise EmvError("54: won have no decimals: a whole positive number like 12000", where["54"])
    tip = result.get("55")
    if "56" in result and tip != "02":
        raise EmvError('56 (convenience fee) needs 55 = "02"', where["56"])
    if "57" in result and tip != "03":
        raise EmvError('57 (fee percentage) needs 55 = "03"', where["57"])


def _check_ascii(tag: str, value: str, at: int) -> None:
    """Outside the language template, values are in the spec's common character set:
    printable ASCII (0x20-0x7E)."""
    for i, ch in enumerate(value):
        if not " " <= ch <= "~":
            raise EmvError(f"{tag}: character {ch!r} is not printable ASCII", at + i)


def _digits(text: str) -> bool:
    # str.isdigit() accepts other scripts' digits ("٣"); the spec means 0-9 only.
    return all("0" <= ch <= "9" for ch in text)

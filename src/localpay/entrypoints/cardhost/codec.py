"""ISO 8583:1987 messages (pyiso8583's `default_ascii` spec) to CardRequest and back.

`decode` gives a CardRequest whose fields passed their format checks, or raises
FormatError, nothing else (the fuzz tests hold it to that). A FormatError that could read
the message type and the STAN is answered 30 (format error) with 11, 37 and 41 echoed when
they were readable; one that could not is not answerable and the host closes the
connection, since the terminal could not match an answer to its request anyway.

Field 54 (additional amounts) carries the remaining balance as one 20-character entry:
account type "00" (unspecified: a prepaid wallet has no checking/savings split),
amount type "02" (available balance), currency "410", sign "C" (credit) and 12 digits
of whole won.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import iso8583
from iso8583.specs import default_ascii

from localpay.domain.errors import Refused
from localpay.services.payments.card.messages import (
    APPROVED,
    FORMAT_ERROR,
    RESPONSES,
    CardAnswer,
    CardRequest,
)

SPEC: Final = default_ascii
CURRENCY_KRW: Final = "410"

_DIGITS: Final = re.compile(r"[0-9]+")
_PRINTABLE: Final = re.compile(r"[ -~]+")
_HEX: Final = re.compile(r"[0-9A-Fa-f]{16}")


def _digits(n: int) -> Callable[[str], bool]:
    return lambda v: len(v) == n and _DIGITS.fullmatch(v) is not None


def _printable(n: int) -> Callable[[str], bool]:
    # A fixed-length alphanumeric field: pyiso8583 already read exactly n characters.
    return lambda v: len(v) == n and _PRINTABLE.fullmatch(v) is not None


def _pan(v: str) -> bool:
    return 12 <= len(v) <= 19 and _DIGITS.fullmatch(v) is not None


def _mmdd(v: str) -> bool:
    return _digits(4)(v) and 1 <= int(v[:2]) <= 12 and 1 <= int(v[2:]) <= 31


def _hhmmss(v: str) -> bool:
    return _digits(6)(v) and int(v[:2]) < 24 and int(v[2:4]) < 60 and int(v[4:]) < 60


def _transmitted(v: str) -> bool:
    return len(v) == 10 and _mmdd(v[:4]) and _hhmmss(v[4:])


def _yymm(v: str) -> bool:
    return _digits(4)(v) and 1 <= int(v[2:]) <= 12


#: 0800's network management codes we answer.
NETWORK_CODES: Final = {"001": "sign-on", "002": "sign-off", "301": "echo"}

#: The format of each field we read; a present field that fails its check is a 30.
CHECKS: Final[Mapping[str, Callable[[str], bool]]] = {
    "2": _pan,
    "3": _digits(6),
    "4": _digits(12),
    "7": _transmitted,
    "11": _digits(6),
    "12": _hhmmss,
    "13": _mmdd,
    "14": _yymm,
    "22": _digits(3),
    "37": _printable(12),
    "38": _printable(6),
    "41": _printable(8),
    "42": _printable(15),
    "49": lambda v: v == CURRENCY_KRW,
    "52": lambda v: _HEX.fullmatch(v) is not None,
    "70": lambda v: v in NETWORK_CODES,
    "90": _digits(42),
}

_PURCHASE: Final = ("2", "3", "4", "7", "11", "12", "13", "22", "37", "41", "42", "49")
_REVERSAL: Final = ("2", "3", "4", "11", "37", "41")
#: The fields each message type must carry.
REQUIRED: Final[Mapping[str, tuple[str, ...]]] = {
    "0100": _PURCHASE,
    "0200": _PURCHASE,
    "0400": _REVERSAL,
    "0420": _REVERSAL,
    "0800": ("7", "11", "70"),
}

#: Request fields a response echoes (2 as ISO 8583 has it mandatory in 0110/0210).
ECHOED: Final = ("2", "3", "4", "7", "11", "12", "13", "37", "41", "42", "49")
#: Echoed in an answer to a malformed request, when they were readable.
ECHOED_ON_ERROR: Final[tuple[str, ...]] = ("11", "37", "41")


@dataclass
class FormatError(Refused):
    """A message we cannot act on. `mti` and `echo` are set when it can be answered 30."""

    code = "iso8583_format"
    reason: str
    mti: str = ""
    echo: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.reason

    @property
    def answerable(self) -> bool:
        return bool(self.mti) and "11" in self.echo


def decode(data: bytes) -> CardRequest:
    """The request a frame carries, its fields checked for the message type."""
    try:
        fields, _ = iso8583.decode(bytearray(data), SPEC)
    except iso8583.DecodeError as exc:
        raise _unreadable(exc.msg, exc.doc_dec) from None
    except (ValueError, TypeError, IndexError, KeyError) as exc:  # pyiso8583's own slips
        raise FormatError(f"undecodable: {type(exc).__name__}") from None
    mti = fields.get("t", "")
    if mti not in REQUIRED:
        raise FormatError(f"message type {mti!r} is not one we answer")
    echo = {k: fields[k] for k in ECHOED_ON_ERROR if k in fields and CHECKS[k](fields[k])}
    answerable_mti = mti if "11" in echo else ""
    missing = [k for k in REQUIRED[mti] if k not in fields]
    if missing:
        raise FormatError(f"{mti} without field {', '.join(missing)}", answerable_mti, echo)
    bad = [k for k in CHECKS if k in fields and not CHECKS[k](fields[k])]
    if bad:
        raise FormatError(f"{mti} with malformed field {', '.join(bad)}", answerable_mti, echo)
    return _request(mti, fields)


def _unreadable(reason: str, partial: Mapping[str, str]) -> FormatError:
    """A frame pyiso8583 could not finish: answerable if the type and STAN were read."""
    mti = partial.get("t", "")
    echo = {k: partial[k] for k in ECHOED_ON_ERROR if k in partial and CHECKS[k](str(partial[k]))}
    if mti in REQUIRED and "11" in echo:
        return FormatError(f"undecodable {mti}: {reason}", mti, echo)
    return FormatError(f"undecodable: {reason}")


def _request(mti: str, f: Mapping[str, str]) -> CardRequest:
    return CardRequest(
        mti=mti,
        stan=f["11"],
        terminal=f.get("41", ""),
        rrn=f.get("37", ""),
        pan=f.get("2", ""),
        processing=f.get("3", ""),
        amount=int(f.get("4", "0")),
        transmitted=f.get("7", ""),
        local_time=f.get("12", ""),
        local_date=f.get("13", ""),
        expiry=f.get("14", ""),
        entry_mode=f.get("22", ""),
        auth_code=f.get("38", ""),
        acceptor=f.get("42", ""),
        currency=f.get("49", ""),
        pin_block=f.get("52", "").upper(),
        network_code=f.get("70", ""),
    )


def balance_entry(balance: int) -> str:
    """Field 54's one entry: the available balance in whole won (see the module's doc)."""
    sign = "C" if balance >= 0 else "D"
    return f"0002{CURRENCY_KRW}{sign}{abs(balance):012d}"


def encode_answer(request: CardRequest, answer: CardAnswer) -> bytes:
    """The response to a request: its type + 10, the echoed fields, 38, 39 and 54."""
    sent = _fields_of(request)
    out = {"t": RESPONSES[request.mti]}
    out.update({k: sent[k] for k in ECHOED if sent.get(k)})
    if request.mti == "0800":
        out["70"] = request.network_code
    if answer.code == APPROVED and answer.auth_code:
        out["38"] = answer.auth_code
    out["39"] = answer.code
    if answer.balance is not None:
        out["54"] = balance_entry(answer.balance)
    return _encode(out)


def encode_format_error(error: FormatError) -> bytes:
    """30 to a malformed request whose type and STAN were readable."""
    if not error.answerable:
        raise ValueError("a format error without type and STAN cannot be answered")
    out = {"t": RESPONSES[error.mti], **error.echo, "39": FORMAT_ERROR}
    return _encode(out)


def _fields_of(r: CardRequest) -> dict[str, str]:
    return {
        "2": r.pan,
        "3": r.processing,
        "4": f"{r.amount:012d}" if r.mti != "0800" else "",
        "7": r.transmitted,
        "11": r.stan,
        "12": r.local_time,
        "13": r.local_date,
        "37": r.rrn,
        "41": r.terminal,
        "42": r.acceptor,
        "49": r.currency,
    }


def _encode(fields: dict[str, str]) -> bytes:
    encoded, _ = iso8583.encode(fields, SPEC)
    return bytes(encoded)

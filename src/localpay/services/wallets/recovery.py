"""The wallet's recovery code, as the browser makes it (static/js/wallet/keys.js).

The browser makes and keeps a citizen's key; the server never sees it. This Python copy
exists for the demo only: `make run` prints the recovery code of a demo citizen whose
key the simulation derived, so a person trying localpay can restore that wallet in the
browser and find money in it. A browser test checks the two give the same codes.

The code: the 32-byte seed in Crockford base32 (52 symbols, the last holding one bit),
then a CRC-20 (x^20 + x^3 + 1) of those symbols in 4 more, shown in 14 groups of 4.
"""

from __future__ import annotations

from typing import Final

ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SEED_SYMBOLS: Final = 52
CRC_POLY: Final = 0x9


def _symbols(data: bytes, count: int) -> list[int]:
    value = int.from_bytes(data, "big") << (count * 5 - len(data) * 8)
    return [(value >> (5 * (count - 1 - i))) & 31 for i in range(count)]


def _crc20(symbols: list[int]) -> list[int]:
    r = 0
    for s in symbols:
        for b in range(4, -1, -1):
            top = ((r >> 19) & 1) ^ ((s >> b) & 1)
            r = (r << 1) & 0xFFFFF
            if top:
                r ^= CRC_POLY
    return [(r >> shift) & 31 for shift in (15, 10, 5, 0)]


def recovery_code(seed: bytes) -> str:
    if len(seed) != 32:
        raise ValueError("a seed is 32 bytes")
    symbols = _symbols(seed, SEED_SYMBOLS)
    text = "".join(ALPHABET[s] for s in symbols + _crc20(symbols))
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))

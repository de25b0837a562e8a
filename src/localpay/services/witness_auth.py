"""How a witness proves, on each feed request, that it holds a key of the city's witness set.

A witness does not sign in: every request for the chain feed carries its public key, the
time, and an Ed25519 signature of

    localpay/witness-feed/v1\\n<city>\\n<key>\\n<from_height>\\n<limit>\\n<time_ms>

made with that key. The server accepts it when the key is in the city's current on-chain
witness set (`set_witnesses`), the time is within `MAX_SKEW_MS` of its clock, and the
signature verifies. Why per request rather than a session:

* the witness set is read from the chain on every request, so a witness removed by
  `set_witnesses` loses access at once (a session would outlive its removal);
* nothing is written on the server per witness (no principal, session or challenge row)
  and no bearer secret exists that could leak from a log or a table: the only secret is
  the witness key, which never leaves the witness;
* a captured request can only be replayed, within the time window, for the very page it
  asked for: a read the eavesdropper has already seen. It changes nothing.

The cost is one Ed25519 verification (~50 µs) per feed page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import msgspec
import nacl.bindings
import nacl.exceptions
import nacl.signing

from localpay.ledger.state import Authorities
from localpay.ledger.store import Store

FEED_PREFIX: Final = b"localpay/witness-feed/v1\n"
#: How far a request's time may be from the server's clock, either way.
MAX_SKEW_MS: Final = 5 * 60 * 1000

KEY_HEADER: Final = "X-Witness-Key"
TIME_HEADER: Final = "X-Witness-Time"
SIGNATURE_HEADER: Final = "X-Witness-Signature"


class WitnessAuthError(Exception):
    """The request does not prove a witness key; `code` is the API problem to answer."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def feed_message(city: str, key: str, from_height: int, limit: int, time_ms: int) -> bytes:
    """What a witness signs for one feed request: bound to the city, the page and the time."""
    return FEED_PREFIX + f"{city}\n{key}\n{from_height}\n{limit}\n{time_ms}".encode()


def sign_feed_request(
    key: nacl.signing.SigningKey, city: str, from_height: int, limit: int, time_ms: int
) -> dict[str, str]:
    """The headers a witness sends with GET .../feed?from_height=&limit=."""
    public = bytes(key.verify_key).hex()
    signature = key.sign(feed_message(city, public, from_height, limit, time_ms)).signature
    return {KEY_HEADER: public, TIME_HEADER: str(time_ms), SIGNATURE_HEADER: signature.hex()}


def witness_set(store: Store, city: str) -> Authorities:
    raw = store.state_value(city, "o")
    return Authorities() if raw is None else msgspec.json.decode(raw, type=Authorities)


def check_feed_request(
    store: Store,
    city: str,
    key: str,
    time_ms: int,
    signature: str,
    from_height: int,
    limit: int,
    clock: Callable[[], int],
) -> str:
    """The witness's name if the request proves a key of the city's witness set.

    Raises WitnessAuthError("unauthenticated", ...) for a stale time or a signature
    that does not verify, and ("forbidden", ...) for a key that is not a witness's.
    """
    if abs(clock() - time_ms) > MAX_SKEW_MS:
        raise WitnessAuthError(
            "unauthenticated",
            f"{TIME_HEADER} is more than {MAX_SKEW_MS // 1000} s from the server's clock",
        )
    try:
        nacl.bindings.crypto_sign_open(
            bytes.fromhex(signature) + feed_message(city, key, from_height, limit, time_ms),
            bytes.fromhex(key),
        )
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise WitnessAuthError(
            "unauthenticated", f"{SIGNATURE_HEADER} does not verify for {KEY_HEADER}"
        ) from None
    name = witness_set(store, city).witnesses.get(key)
    if name is None:
        raise WitnessAuthError("forbidden", "that key is not in the city's witness set")
    return name

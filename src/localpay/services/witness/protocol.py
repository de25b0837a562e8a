"""The chain feed's protocol: what a witness receives, and how it proves it is one.

**Pages.** `feed_page` reads whole blocks from the store, as stored: each with its exact
header text (the bytes that are hashed), hash, operator signature, checkpoint note and its
transactions with their exact envelope and result text. Nothing is repaired or re-encoded,
so a witness sees exactly what the operator holds (api/feed.py serves it).

**Authentication.** A witness does not sign in: every request for the chain feed carries
its public key, the time, and an Ed25519 signature of

    localpay/witness-feed/v1\\n<city>\\n<key>\\n<from_height>\\n<limit>\\n<time_ms>

made with that key. The server accepts it when the key is in the city's current on-chain
witness set (`set_witnesses`), the time is within `FEED_REQUEST_SKEW_MS_MAX` of its clock, and the
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

from localpay.domain.errors import Refused
from localpay.domain.limits import FEED_PAGE_TXS_MAX, FEED_REQUEST_SKEW_MS_MAX
from localpay.ledger.blocks import TxRecord, decode_header
from localpay.ledger.ports import Store, StoredBlock
from localpay.ledger.state import Authorities

FEED_PREFIX: Final = b"localpay/witness-feed/v1\n"


KEY_HEADER: Final = "X-Witness-Key"
TIME_HEADER: Final = "X-Witness-Time"
SIGNATURE_HEADER: Final = "X-Witness-Signature"


class WitnessAuthError(Refused):
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
    if abs(clock() - time_ms) > FEED_REQUEST_SKEW_MS_MAX:
        raise WitnessAuthError(
            "unauthenticated",
            f"{TIME_HEADER} is more than {FEED_REQUEST_SKEW_MS_MAX // 1000} s"
            " from the server's clock",
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


# -- pages ------------------------------------------------------------------------------------


class FeedTx(msgspec.Struct, frozen=True):
    seq: int
    height: int
    id: str
    kind: str
    envelope: str
    result: str


class FeedBlock(msgspec.Struct, frozen=True):
    height: int
    header: str
    hash: str
    signature: str
    checkpoint: str
    txs: list[FeedTx]


class FeedPage(msgspec.Struct, frozen=True):
    city: str
    head: int  # the newest durable block's height, -1 for none
    items: list[FeedBlock]
    next: int | None  # from_height of the next page; None once the page reaches the head
    # The asking witness's name in the city's current on-chain set (None for staff): the
    # key name its cosignatures must carry, known before its own copy reaches the block
    # that appointed it.
    witness: str | None = None


def _text(data: bytes) -> str:
    # Stored envelopes and results are UTF-8 JSON. A damaged row that is not stays
    # damaged (replacement characters), so its hashes fail where the witness checks them.
    return data.decode("utf-8", errors="replace")


def _feed_tx(tx: TxRecord) -> FeedTx:
    return FeedTx(tx.seq, tx.height, tx.id, tx.kind, _text(tx.envelope), _text(tx.result))


def _txs_by_block(store: Store, city: str, blocks: list[StoredBlock]) -> list[list[TxRecord]]:
    """Each block's transactions: one range read over the seqs its header claims (the
    primary key; by height SQLite scans the city). A block whose header cannot be read,
    or whose range is implausible, is read by height instead."""
    spans: list[tuple[int, int] | None] = []
    for block in blocks:
        try:
            header = decode_header(block.header_bytes)
        except (msgspec.MsgspecError, UnicodeDecodeError):
            spans.append(None)
            continue
        low = header.log_size - header.tx_count
        plausible = 0 <= low <= header.log_size and header.tx_count <= 2 * FEED_PAGE_TXS_MAX
        spans.append((low, header.log_size) if plausible else None)
    known = [s for s in spans if s is not None]
    rows: dict[int, TxRecord] = {}
    if known:
        low, high = min(s[0] for s in known), max(s[1] for s in known)
        if high - low <= 4 * FEED_PAGE_TXS_MAX:
            rows = {tx.seq: tx for tx in store.txs(city, low, high)}
        else:  # headers that claim far-apart ranges: each block on its own
            spans = [None] * len(blocks)
    return [
        store.block_txs(city, block.height)
        if span is None
        else [rows[s] for s in range(*span) if s in rows]
        for block, span in zip(blocks, spans, strict=True)
    ]


def feed_page(
    store: Store, city: str, from_height: int, limit: int, witness: str | None = None
) -> FeedPage:
    """Blocks from `from_height` on, at most `limit` and about FEED_PAGE_TXS_MAX transactions."""
    head = store.head(city)
    top = head.height if head is not None else -1
    blocks: list[StoredBlock] = []
    counted = 0
    for block in store.blocks(city, from_height, min(from_height + limit, top + 1)):
        if blocks and block.height != blocks[-1].height + 1:
            break  # a hole in the stored heights: the page ends before it
        try:
            size = decode_header(block.header_bytes).tx_count
        except (msgspec.MsgspecError, UnicodeDecodeError):
            size = 0
        if blocks and counted + size > FEED_PAGE_TXS_MAX:
            break
        blocks.append(block)
        counted += size
    items = [
        FeedBlock(
            block.height,
            _text(block.header_bytes),
            block.hash.hex(),
            block.signature.hex(),
            block.checkpoint,
            [_feed_tx(tx) for tx in txs],
        )
        for block, txs in zip(blocks, _txs_by_block(store, city, blocks), strict=True)
    ]
    last = items[-1].height if items else from_height - 1
    return FeedPage(city, top, items, last + 1 if last < top else None, witness)

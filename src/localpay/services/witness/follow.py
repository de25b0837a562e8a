"""Following the server's feed: signed page requests, and the checks that a page continues
the chain the witness already took.

After a restart of either side the witness resumes at its own head, asking the feed
again for its own last block, which must come back unchanged; a checkpoint of a size it
signed must keep the root it signed.
"""

from __future__ import annotations

import msgspec
import nacl.signing

from localpay.domain.errors import Unavailable
from localpay.ledger.log import checkpoint
from localpay.services.witness.alarms import Alarm
from localpay.services.witness.ports import Clock, FeedTransport, WitnessRecords
from localpay.services.witness.protocol import FeedBlock, FeedPage, sign_feed_request


class FeedUnavailable(Unavailable):
    """The server did not answer with a page (down, restarting, refusing this witness)."""


class Feed:
    """The server's chain feed and cosignature endpoint, as seen by one witness."""

    def __init__(
        self, transport: FeedTransport, city: str, key: nacl.signing.SigningKey, clock: Clock
    ) -> None:
        self.transport = transport
        self.city = city
        self.key = key
        self.clock = clock
        self._decoder = msgspec.json.Decoder(FeedPage)

    def page(self, from_height: int, limit: int) -> FeedPage:
        headers = sign_feed_request(self.key, self.city, from_height, limit, self.clock())
        status, body = self.transport.get_page(from_height, limit, headers)
        if status == 0:
            raise FeedUnavailable(body.decode(errors="replace"))
        if status != 200:
            text = body.decode(errors="replace")[:300]
            raise FeedUnavailable(f"HTTP {status}: {text}")
        try:
            return self._decoder.decode(body)
        except msgspec.MsgspecError as exc:
            raise FeedUnavailable(f"not a feed page: {exc}") from None

    def post_cosignature(self, size: int, line: str) -> tuple[int, str]:
        """(HTTP status, detail); status 0 when the server could not be reached."""
        status, body = self.transport.post_cosignature(size, line)
        detail = "" if 0 < status < 300 else body.decode(errors="replace")[:300]
        return status, detail

    def close(self) -> None:
        self.transport.close()


def continuing(
    page: FeedPage, cursor: int, last_hash: bytes | None, city: str, records: WitnessRecords
) -> list[FeedBlock]:
    """The page's new blocks, after checking that it continues the chain already taken:
    it starts again at block `cursor - 1` (hash `last_hash`), then has no gaps."""
    items = list(page.items)
    if cursor > 0:
        if page.head < cursor - 1:
            raise Alarm(
                "history_rewritten",
                f"the server's chain ends at block {page.head}, below block {cursor - 1}"
                " that this witness already verified",
                page.head,
            )
        if not items or items[0].height != cursor - 1:
            got = items[0].height if items else "nothing"
            raise Alarm("gap", f"asked for block {cursor - 1}, got {got}", cursor - 1)
        overlap = items.pop(0)
        if overlap.hash != (last_hash or b"").hex():
            check_signed(overlap, city, records)
            raise Alarm(
                "history_rewritten",
                f"block {overlap.height} is now served with hash {overlap.hash[:16]}…,"
                f" this witness verified {(last_hash or b'').hex()[:16]}…",
                overlap.height,
            )
    expected = cursor
    for item in items:
        if item.height != expected:
            raise Alarm("gap", f"expected block {expected}, got {item.height}", expected)
        expected += 1
    return items


def check_signed(item: FeedBlock, city: str, records: WitnessRecords) -> None:
    """A checkpoint of a size this witness signed must have the root it signed."""
    point = note_point(item.checkpoint)
    if point is None:
        return
    signed = records.signed_root(city, point.size)
    if signed is not None and signed != point.root.hex():
        raise Alarm(
            "checkpoint_inconsistent",
            f"block {item.height}: the checkpoint of size {point.size} now has root"
            f" {point.root.hex()[:16]}…, this witness signed {signed[:16]}…",
            item.height,
        )


def note_point(note: str) -> checkpoint.Checkpoint | None:
    try:
        return checkpoint.parse_checkpoint(checkpoint.open_note(note)[0])
    except checkpoint.NoteError:
        return None

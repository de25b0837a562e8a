"""Every bound localpay puts on what it accepts or keeps, in one place, named `*_MAX`.

A limit set in one module and relied on in another drifts: a command that fits the
ledger but not the request body, a feed page smaller than the block it must hold. So the
limits live here, and `check_relations()` (run on import and by the tests) says how they
depend on each other. The formats' own bounds (C2SP note sizes, Ed25519 lengths) stay
with their codecs: they are facts of a specification, not choices of ours.
"""

from __future__ import annotations

from typing import Final

# -- money ----------------------------------------------------------------------------

#: Largest amount one command may move (10 billion won: above any city's yearly issuance
#: per command, far below 2**53 so JavaScript clients keep exact integers).
AMOUNT_MAX: Final = 10_000_000_000
#: Largest annual revenue a merchant may declare (1,000 trillion won, more than any firm
#: takes in): still below 2**53, so every reader keeps the exact number.
REVENUE_MAX: Final = 10**15
#: Longest validity, in days, a program or a city may give money (100 years). It keeps
#: every expiry a real calendar date: 10,000,000 days would be the year 29405.
VALID_DAYS_MAX: Final = 36_600
#: Longest refund window a city may choose (ten years).
REFUND_WINDOW_DAYS_MAX: Final = 3650

# -- commands -------------------------------------------------------------------------

#: Largest encoded command accepted, in bytes (a policy with long lists fits easily).
COMMAND_BYTES_MAX: Final = 8192
#: Most signatures on one command (maker-checker needs two; headroom for quorum rules).
SIGNATURES_MAX: Final = 4
#: Most keys one wallet or merchant may register.
KEYS_MAX: Final = 4
#: Most prepaid cards one wallet may have bound at once (a lost card's replacement too).
CARDS_PER_WALLET_MAX: Final = 4
#: Most witnesses one city may name.
WITNESSES_MAX: Final = 16
#: Most categories or areas one policy may list; keeps evaluation bounded.
POLICY_LIST_MAX: Final = 64
#: Most lots a credit or a gift may bring a wallet to: bounds what one payment walks
#: (256 lots keep a payment well under a millisecond of ledger time).
LOTS_PER_WALLET_MAX: Final = 256

#: How long money stays held for a card authorization or a checkout approval before the
#: jobs give it back (card schemes keep authorizations about a week).
HOLD_MS_MAX: Final = 7 * 86_400_000
#: How long after its capture a card payment may still be reversed by its card.
REVERSAL_MS_MAX: Final = 86_400_000
#: How long a customer-presented one-time code may be claimed (the Korean QR standard's 3 min).
CODE_MS_MAX: Final = 3 * 60_000
#: How long a void (a reversal before its hold) and a claimed or lapsed code are kept.
VOID_KEEP_MS_MAX: Final = 30 * 86_400_000

#: Most rows one disbursement batch may hold (a batch of 100,000 is the issue's scale).
BATCH_ROWS_MAX: Final = 1_000_000

# -- the sequencer and the chain ------------------------------------------------------

#: Most commands in one block: bounds a block's memory and its commit time.
BLOCK_TXS_MAX: Final = 4096
#: Most commands waiting to be sequenced; beyond it submit() refuses (backpressure).
QUEUE_MAX: Final = 100_000
#: How far the wall clock may disagree with the chain: a sequencer refuses to seal a
#: block when its clock jumped or lags the head by more, and a witness refuses a block
#: dated further ahead of its own clock (a block time pins every later block).
CLOCK_SKEW_MS_MAX: Final = 5 * 60 * 1000

# -- the chain feed and archives ------------------------------------------------------

#: How far a witness's feed request may be dated from the server's clock, either way.
FEED_REQUEST_SKEW_MS_MAX: Final = 5 * 60 * 1000
#: Most blocks one feed page returns.
FEED_BLOCKS_MAX: Final = 1000
#: A feed page stops adding blocks once it holds this many transactions (it always
#: holds at least one block, whatever its size).
FEED_PAGE_TXS_MAX: Final = 20_000
#: Longest line an archive reader accepts: an envelope is at most COMMAND_BYTES_MAX, a
#: frontier 64 hashes.
ARCHIVE_LINE_BYTES_MAX: Final = 1 << 20

# -- HTTP -----------------------------------------------------------------------------

#: Largest request body accepted by any endpoint.
BODY_BYTES_MAX: Final = 64 * 1024
#: Idempotency keys longer than this, or with characters outside visible ASCII, are
#: refused.
IDEMPOTENCY_KEY_MAX: Final = 128
#: Most idempotency records written in one commit (a burst waits for the next one).
IDEMPOTENCY_FLUSH_MAX: Final = 4096
#: Rate-limit buckets kept before the least recently used are dropped.
RATE_BUCKETS_MAX: Final = 100_000
#: Most items one page of a list returns.
PAGE_MAX: Final = 200
#: Bound of every height, size, sequence number and cursor a request may name: stores
#: keep them in signed 64-bit integers, and a number past that is refused when it is
#: decoded (a path naming one is 404, a query or cursor 422), never handed to a store.
INTEGER_MAX: Final = 2**62
#: A cursor is the base64 of a number below INTEGER_MAX: never longer than this.
CURSOR_CHARS_MAX: Final = 28

# -- operations -----------------------------------------------------------------------

#: Longest wait between restarts of a failed sequencer.
SUPERVISOR_BACKOFF_S_MAX: Final = 30.0
#: Longest failure reason kept: an exception's text, cut.
FAILURE_REASON_CHARS_MAX: Final = 300
#: Longest wait between a witness's retries while the server cannot be reached.
WITNESS_BACKOFF_S_MAX: Final = 5.0
#: Highest master key version (a sealed secret's header keeps it in 31 bits).
MASTER_KEY_VERSION_MAX: Final = 2**31 - 1

#: Largest integer every store column and every JSON reader keeps exactly.
_BIGINT: Final = 2**63 - 1
_JSON_EXACT: Final = 2**53


def relations() -> list[tuple[str, bool]]:
    """Each relation between the limits, in words, and whether it holds."""
    return [
        # COMMAND_BYTES_MAX bounds the whole signed envelope, which is a command's body.
        ("a signed command fits in a request body", COMMAND_BYTES_MAX <= BODY_BYTES_MAX),
        # An archive line carries an envelope encoded (at most twice its size) with its
        # stored result and state changes, each bounded by the command.
        ("an archive line holds a signed command", 4 * COMMAND_BYTES_MAX < ARCHIVE_LINE_BYTES_MAX),
        ("a feed page holds a whole block", FEED_PAGE_TXS_MAX >= BLOCK_TXS_MAX),
        ("amounts stay exact in JavaScript", REVENUE_MAX < _JSON_EXACT),
        ("a full wallet's sum fits a store integer", LOTS_PER_WALLET_MAX * AMOUNT_MAX < _BIGINT),
        ("request integers fit the stores' integers", INTEGER_MAX < _BIGINT),
        ("a cursor can name any integer", len(_b64(INTEGER_MAX)) <= CURSOR_CHARS_MAX),
        ("a block fits in the queue", BLOCK_TXS_MAX <= QUEUE_MAX),
        ("a refund window lies within money's validity", REFUND_WINDOW_DAYS_MAX <= VALID_DAYS_MAX),
        ("maker-checker fits in the signatures", SIGNATURES_MAX >= 2),
        ("an idempotency flush fits in the queue", IDEMPOTENCY_FLUSH_MAX <= QUEUE_MAX),
        ("a card payment is reversible only while holds live", REVERSAL_MS_MAX <= HOLD_MS_MAX),
        # A reversal may void a hold that arrives later; the void must outlive the hold's
        # own life, or a late original could find it gone and debit after all.
        ("a void outlives any hold", VOID_KEEP_MS_MAX > HOLD_MS_MAX),
        ("a code is kept past its expiry", VOID_KEEP_MS_MAX > CODE_MS_MAX),
    ]


def check_relations() -> None:
    broken = [words for words, holds in relations() if not holds]
    if broken:
        raise AssertionError("limits contradict each other: " + "; ".join(broken))


def _b64(n: int) -> str:
    import base64  # noqa: PLC0415 (only for this check)

    return base64.urlsafe_b64encode(str(n).encode()).decode()


check_relations()

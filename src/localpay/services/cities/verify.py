"""`localpay verify`: replay each city's chain from its store and compare; and the chain's
identity (genesis hash, operator key, origin) that verifiers and witnesses pin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import msgspec

from localpay.domain.commands import CreateCity
from localpay.ledger.blocks import BlockHeader
from localpay.ledger.chain import chain_origin, stored_genesis_hash
from localpay.ledger.ports import Store, StoredBlock
from localpay.ledger.readahead import prepared_blocks
from localpay.ledger.replay import ChainError, PinMismatch, Pins, Replayer
from localpay.ledger.signatures import EnvelopeChecker
from localpay.ledger.state import Authorities

#: From this many transactions on, verify checks signatures in worker processes:
#: starting them (~0.3 s) costs what checking ~5,000 signatures on this thread does.
PROCESS_THRESHOLD: Final = 20_000


class VerifyReport(msgspec.Struct):
    city: str
    ok: bool
    blocks: int
    txs: int
    problems: list[str]
    # The chain is sound but not the pinned one (problems[0] says how).
    pin_mismatch: bool = False


class ChainIdentity(msgspec.Struct, frozen=True):
    """What a witness or verifier pins: learned from the city, not from the operator."""

    city: str
    name: str
    genesis_hash: str  # SHA-256 of the stored create_city envelope (hex)
    operator_key: str  # the genesis key: what a verifier pins (`--operator-key`)
    origin: str  # the log's origin line: localpay.city/<city>/<genesis hash>
    # The key that signs new blocks: the genesis key's successor after rotate_operator
    # commands, which verify follows from the pinned genesis key.
    current_operator_key: str = ""


def chain_identity(store: Store, city: str) -> ChainIdentity | None:
    """The identity of the city's chain in `store` (None: no such city). Not verified:
    run `verify` to know the chain behind it is sound."""
    genesis_hash = stored_genesis_hash(store, city)
    raw = store.state_value(city, "g")
    if genesis_hash is None or raw is None:
        return None
    genesis = msgspec.json.decode(raw, type=CreateCity)
    found = store.state_value(city, "o")
    rotations = msgspec.json.decode(found, type=Authorities).rotations if found else []
    return ChainIdentity(
        city,
        genesis.name,
        genesis_hash,
        genesis.operator_key,
        chain_origin(city, genesis_hash),
        rotations[-1].key if rotations else genesis.operator_key,
    )


def verify_city(
    store: Store,
    city: str,
    progress: Callable[[int], None] | None = None,
    pins: Pins | None = None,
    checker: EnvelopeChecker | None = None,
) -> VerifyReport:
    """Replay the chain of `city` from genesis and compare. Command signatures are checked
    by `checker` (default: worker processes on every core if the chain is long enough to
    repay starting them, else on this thread) ahead of the re-execution."""
    own = checker is None
    if checker is None:
        head = store.head(city)
        long = head is not None and _log_size(head) >= PROCESS_THRESHOLD
        checker = EnvelopeChecker(None if long else 0)
    try:
        return _verify(store, city, progress, pins, checker)
    finally:
        if own:
            checker.close()


def _log_size(block: StoredBlock) -> int:
    try:
        return msgspec.json.decode(block.header_bytes, type=BlockHeader).log_size
    except msgspec.MsgspecError:
        return 0  # the replay says what is wrong with it


def _verify(
    store: Store,
    city: str,
    progress: Callable[[int], None] | None,
    pins: Pins | None,
    checker: EnvelopeChecker,
) -> VerifyReport:
    replayer = Replayer(city, pins)
    blocks = 0
    try:
        for prepared in prepared_blocks(store, city, checker):
            replayer.apply(prepared)
            replayer.check_frontier(prepared.block)
            blocks += 1
            if progress:
                progress(blocks)
    except PinMismatch as exc:
        return VerifyReport(city, False, blocks, replayer.txs_replayed, [str(exc)], True)
    except ChainError as exc:
        return VerifyReport(city, False, blocks, replayer.txs_replayed, [str(exc)])
    problems = []
    if blocks == 0 and pins is not None and pins != Pins():
        problems.append(f"city {city!r} has no genesis block to compare with the pins")
    # Rows beyond the last block's log: inserted transactions that no block covers.
    # (Blocks' rows are read by seq range, so rows before the log's start are looked for
    # too: a row of a block's height but out of every range is in none of its reads.)
    stray = [*store.txs(city, -(2**62), 0), *store.txs(city, replayer.head.log.size)]
    problems += [f"tx {t.seq} (id {t.id}): stored but in no block's log" for t in stray]
    problems += replayer.compare_state(store.state(city))
    return VerifyReport(city, not problems, blocks, replayer.txs_replayed, problems)

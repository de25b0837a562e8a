"""MerkleLog with a source of its leaves keeps only the newest chunks below the chunk
level and rebuilds older ones from the source: the same proofs, byte for byte, as the
reference and as a log holding everything, in bounded memory; a source that disagrees
with the log is an error, never a wrong proof."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localpay.ledger.log import merkle
from localpay.ledger.log.merkle_log import CHUNK_LEVEL, MerkleLog


def leaves(n: int, salt: bytes = b"") -> list[bytes]:
    return [merkle.leaf_hash(salt + i.to_bytes(4, "big")) for i in range(n)]


class Leaves:
    """The store's side: every leaf hash, read by range, counting the reads."""

    def __init__(self, hashes: list[bytes]) -> None:
        self.hashes = hashes
        self.reads = 0

    def __call__(self, start: int, end: int) -> Sequence[bytes]:
        self.reads += 1
        return self.hashes[start:end]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(min_value=1, max_value=300), level=st.integers(1, 4), data=st.data())
def test_bounded_proofs_are_the_references(n: int, level: int, data: st.DataObject) -> None:
    hashes = leaves(n, salt=b"q")
    log = MerkleLog(source=Leaves(hashes), chunk_level=level, cached_chunks=1)
    done = 0
    while done < n:
        step = data.draw(st.integers(min_value=1, max_value=n - done), label="batch")
        log.extend(hashes[done : done + step])
        done += step
    for _ in range(6):
        size = data.draw(st.integers(min_value=0, max_value=n), label="size")
        assert log.root(size) == merkle.root(hashes[:size])
        if size:
            index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
            assert log.inclusion_proof(index, size) == merkle.inclusion_proof(hashes, index, size)
            assert log.leaf_hash(index) == hashes[index]
        old = data.draw(st.integers(min_value=0, max_value=size), label="old")
        assert log.consistency_proof(old, size) == merkle.consistency_proof(hashes, old, size)


def test_a_long_log_holds_little_and_rebuilds_old_chunks_from_the_source() -> None:
    n = 300_000
    hashes = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(n)]
    source = Leaves(hashes)
    bounded = MerkleLog(source=source)
    everything = MerkleLog()
    for start in range(0, n, 5000):
        bounded.extend(hashes[start : start + 5000])
        everything.extend(hashes[start : start + 5000])
    assert everything.nbytes > 60 * n  # ~64 bytes a leaf when it holds everything
    assert bounded.nbytes < 0.5 * 1024 * 1024  # ~64 KiB per kept chunk, and the top
    assert source.reads == 0  # appending never reads
    size = n - 7
    for index in (0, 1, 77_777, size // 2, size - 1):
        assert bounded.inclusion_proof(index, size) == everything.inclusion_proof(index, size)
    for old in (1, 1024, 99_999, size - 1):
        assert bounded.consistency_proof(old, size) == everything.consistency_proof(old, size)
    assert 0 < source.reads <= 9  # about one chunk per proof of an old entry
    assert bounded.nbytes < 0.7 * 1024 * 1024  # with 4 rebuilt chunks: still bounded
    # Recent entries (a fresh receipt) need no read at all.
    reads = source.reads
    bounded.inclusion_proof(n - 1, n)
    bounded.inclusion_proof(n - 2000, n)
    assert source.reads == reads


def test_a_source_that_disagrees_with_the_log_is_an_error() -> None:
    hashes = leaves(4 << CHUNK_LEVEL, salt=b"d")
    damaged = list(hashes)
    damaged[5] = merkle.leaf_hash(b"not this one")
    log = MerkleLog(hashes, source=Leaves(damaged), cached_chunks=0)
    with pytest.raises(ValueError, match="do not hash to the log's root"):
        log.inclusion_proof(5, len(hashes))
    short = MerkleLog(hashes, source=Leaves(hashes[:100]), cached_chunks=0)
    with pytest.raises(ValueError, match="do not hash to the log's root"):
        short.inclusion_proof(5, len(hashes))

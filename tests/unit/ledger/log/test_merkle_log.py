"""MerkleLog agrees exactly with ledger.merkle for every size, index and pair of sizes."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localpay.ledger.log import merkle
from localpay.ledger.log.merkle_log import MerkleLog


def leaves(n: int, salt: bytes = b"") -> list[bytes]:
    return [merkle.leaf_hash(salt + i.to_bytes(4, "big")) for i in range(n)]


def test_empty_log() -> None:
    log = MerkleLog()
    assert log.size == 0 and len(log) == 0
    assert log.root() == merkle.EMPTY_ROOT == log.root(0)
    assert log.consistency_proof(0, 0) == []
    with pytest.raises(ValueError, match="out of range"):
        log.inclusion_proof(0, 0)
    with pytest.raises(ValueError, match="out of range"):
        log.root(1)


def test_every_size_index_and_pair_up_to_70_leaves() -> None:
    hashes = leaves(70)
    log = MerkleLog()
    for n, h in enumerate(hashes, start=1):
        log.append(h)
        assert log.root() == merkle.root(hashes[:n])
    for size in range(71):
        assert log.root(size) == merkle.root(hashes[:size])
        for index in range(size):
            assert log.inclusion_proof(index, size) == merkle.inclusion_proof(hashes, index, size)
        for old in range(size + 1):
            assert log.consistency_proof(old, size) == merkle.consistency_proof(hashes, old, size)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=600),
    data=st.data(),
)
def test_property_agrees_with_merkle(n: int, data: st.DataObject) -> None:
    hashes = leaves(n, salt=b"p")
    # Built in random batches: extend and append must give the same structure.
    log = MerkleLog()
    done = 0
    while done < n:
        step = data.draw(st.integers(min_value=1, max_value=n - done), label="batch")
        log.extend(hashes[done : done + step])
        done += step
    for _ in range(8):
        size = data.draw(st.integers(min_value=0, max_value=n), label="size")
        assert log.root(size) == merkle.root(hashes[:size])
        if size:
            index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
            proof = log.inclusion_proof(index, size)
            assert proof == merkle.inclusion_proof(hashes, index, size)
            assert merkle.verify_inclusion(hashes[index], index, size, proof, log.root(size))
        old = data.draw(st.integers(min_value=0, max_value=size), label="old")
        proof = log.consistency_proof(old, size)
        assert proof == merkle.consistency_proof(hashes, old, size)
        if old:
            assert merkle.verify_consistency(old, size, log.root(old), log.root(size), proof)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 1023, 1024, 1025])
def test_power_of_two_boundaries(n: int) -> None:
    hashes = leaves(n, salt=b"b")
    log = MerkleLog(hashes)
    for size in {1, n // 2 or 1, n - 1 or 1, n}:
        assert log.root(size) == merkle.root(hashes[:size])
        for index in {0, size // 2, size - 1}:
            assert log.inclusion_proof(index, size) == merkle.inclusion_proof(hashes, index, size)
        for old in {1, size // 2 or 1, size - 1 or 1, size}:
            assert log.consistency_proof(old, size) == merkle.consistency_proof(hashes, old, size)


def test_matches_compact_range_frontier() -> None:
    hashes = leaves(300, salt=b"c")
    frontier = merkle.CompactRange()
    log = MerkleLog()
    for h in hashes:
        frontier.append(h)
        log.append(h)
        assert log.root() == frontier.root()


def test_errors_like_merkle() -> None:
    log = MerkleLog(leaves(10))
    with pytest.raises(ValueError, match="tree size 11 out of range"):
        log.inclusion_proof(0, 11)
    with pytest.raises(ValueError, match="leaf index 5 out of range"):
        log.inclusion_proof(5, 5)
    with pytest.raises(ValueError, match="old size 6 out of range"):
        log.consistency_proof(6, 5)
    with pytest.raises(ValueError, match="tree size -1 out of range"):
        log.root(-1)
    with pytest.raises(ValueError, match="leaf index 10 out of range"):
        log.leaf_hash(10)
    assert log.leaf_hash(3) == leaves(10)[3]


def test_a_bad_hash_appends_nothing() -> None:
    log = MerkleLog(leaves(3))
    root = log.root()
    with pytest.raises(ValueError, match="32 bytes"):
        log.extend([leaves(4)[3], b"short"])
    assert log.size == 3 and log.root() == root
    log.append(leaves(4)[3])
    assert log.root() == merkle.root(leaves(4))


def test_proofs_are_logarithmic_and_fast() -> None:
    n = 200_000
    hashes = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(n)]
    begin = time.perf_counter()
    log = MerkleLog()
    for start in range(0, n, 1000):
        log.extend(hashes[start : start + 1000])
    append_s = time.perf_counter() - begin
    assert append_s < 5, f"{n} appends took {append_s:.1f}s"  # ~100k/s on a slow machine
    begin = time.perf_counter()
    for index in range(0, n, 997):
        proof = log.inclusion_proof(index, n - 3)
        assert len(proof) <= 18
    assert time.perf_counter() - begin < 2
    # Spot-check against the reference on a large tree (where its cost is bearable).
    size = n - 3
    ref_root = merkle.root(hashes[:size])
    assert log.root(size) == ref_root
    for index in (0, 12_345, size - 1):
        assert merkle.verify_inclusion(
            hashes[index], index, size, log.inclusion_proof(index, size), ref_root
        )
    old = 131_071
    assert merkle.verify_consistency(
        old, size, merkle.root(hashes[:old]), ref_root, log.consistency_proof(old, size)
    )


def test_one_appender_many_readers() -> None:
    hashes = leaves(20_000, salt=b"t")
    log = MerkleLog()
    errors: list[str] = []
    stop = threading.Event()

    def append() -> None:
        for start in range(0, len(hashes), 7):
            log.extend(hashes[start : start + 7])
        stop.set()

    def read(seed: int) -> None:
        roots: dict[int, bytes] = {}
        k = seed
        while not stop.is_set() or k < seed + 50:
            size = log.size
            k += 1
            if size == 0:
                continue
            index = (k * 7919) % size
            root = log.root(size)
            proof = log.inclusion_proof(index, size)
            if not merkle.verify_inclusion(hashes[index], index, size, proof, root):
                errors.append(f"inclusion {index} in {size}")
            if size in roots and roots[size] != root:
                errors.append(f"root of {size} changed")
            roots[size] = root
            old = (k * 104_729) % size + 1
            if not merkle.verify_consistency(
                old, size, log.root(old), root, log.consistency_proof(old, size)
            ):
                errors.append(f"consistency {old} -> {size}")

    readers = [threading.Thread(target=read, args=(s,)) for s in range(3)]
    writer = threading.Thread(target=append)
    for t in [*readers, writer]:
        t.start()
    for t in [writer, *readers]:
        t.join(60)
    assert not errors, errors[:5]
    assert log.root() == merkle.root(hashes)

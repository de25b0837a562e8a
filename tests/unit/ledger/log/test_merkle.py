"""Tests for localpay.ledger.log.merkle.

Known-answer vectors are the RFC 6962 reference test data shared by
Certificate Transparency and transparency-dev, copied as literals from
github.com/transparency-dev/merkle:
  - testonly/constants.go   (leaf inputs, node hashes, root hashes, compact trees)
  - proof/verify_test.go    (inclusion and consistency proofs, corruption probes)
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localpay.ledger.log.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)


def h(s: str) -> bytes:
    return bytes.fromhex(s)


# --- reference data (transparency-dev/merkle testonly/constants.go) ---------

LEAF_INPUTS = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]

# NodeHashes(): [level][index] of every complete subtree.
NODE_HASHES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [
        h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
    ],
]

# RootHashes(): root of the tree of the first n leaves, n = 0..8.
ROOTS = [
    h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

_NH = NODE_HASHES
# CompactTrees(): the frontier after n leaves, n = 0..8.
COMPACT_TREES: list[list[bytes]] = [
    [],
    [_NH[0][0]],
    [_NH[1][0]],
    [_NH[1][0], _NH[0][2]],
    [_NH[2][0]],
    [_NH[2][0], _NH[0][4]],
    [_NH[2][0], _NH[1][2]],
    [_NH[2][0], _NH[1][2], _NH[0][6]],
    [_NH[3][0]],
]

# proof/verify_test.go inclusionProofs: (0-based leaf index, tree size, path).
# (The Go table is 1-based in the leaf; converted here.)
INCLUSION_PROOFS = [
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        3,
        [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")],
    ),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (0, 1, []),
]

# proof/verify_test.go consistencyProofs: (size1, size2, proof).
CONSISTENCY_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")
LEAF_HASHES = [leaf_hash(d) for d in LEAF_INPUTS]


def flip(b: bytes, bit: int = 3) -> bytes:
    return bytes([b[0] ^ (1 << bit)]) + b[1:]


# --- hashing -----------------------------------------------------------------


def test_empty_root_is_sha256_of_nothing() -> None:
    assert root([]) == EMPTY_ROOT == ROOTS[0]
    assert CompactRange().root() == EMPTY_ROOT


def test_leaf_hashes_match_reference() -> None:
    assert NODE_HASHES[0] == LEAF_HASHES


def test_node_hashes_match_reference() -> None:
    for level in range(1, len(NODE_HASHES)):
        below = NODE_HASHES[level - 1]
        expected = [node_hash(below[2 * i], below[2 * i + 1]) for i in range(len(below) // 2)]
        assert expected == NODE_HASHES[level]


def test_domain_separation() -> None:
    # A leaf whose data is an interior node's preimage must not collide with it.
    a, b = LEAF_HASHES[0], LEAF_HASHES[1]
    assert leaf_hash(b"\x01" + a + b) != node_hash(a, b)


@pytest.mark.parametrize("size", range(9))
def test_root_matches_reference(size: int) -> None:
    assert root(LEAF_HASHES[:size]) == ROOTS[size]


@pytest.mark.parametrize("size", range(9))
def test_compact_range_matches_reference(size: int) -> None:
    cr = CompactRange()
    for lh in LEAF_HASHES[:size]:
        cr.append(lh)
    assert cr.size == size
    assert cr.hashes == tuple(COMPACT_TREES[size])
    assert cr.root() == ROOTS[size]
    restored = CompactRange(size, COMPACT_TREES[size])
    assert restored == cr
    assert restored.root() == ROOTS[size]


# --- compact range -----------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "count"),
    [(0, 1), (1, 0), (1, 2), (3, 1), (4, 2), (7, 2), (8, 0)],
)
def test_compact_range_restore_rejects_wrong_hash_count(size: int, count: int) -> None:
    with pytest.raises(ValueError, match="hashes"):
        CompactRange(size, [SOME_HASH] * count)


def test_compact_range_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        CompactRange(-1)
    with pytest.raises(ValueError, match="32 bytes"):
        CompactRange(1, [b"short"])
    with pytest.raises(ValueError, match="32 bytes"):
        CompactRange().append(b"short")


def test_compact_range_copy_is_independent() -> None:
    cr = CompactRange()
    cr.append(LEAF_HASHES[0])
    clone = cr.copy()
    clone.append(LEAF_HASHES[1])
    assert cr.size == 1 and cr.root() == ROOTS[1]
    assert clone.size == 2 and clone.root() == ROOTS[2]


def test_compact_range_equals_root_for_every_size_up_to_300() -> None:
    leaves = _leaves(b"exhaustive", 300)
    cr = CompactRange()
    assert cr.root() == root([])
    for i, lh in enumerate(leaves, start=1):
        cr.append(lh)
        assert cr.root() == root(leaves[:i]), i


# --- inclusion ---------------------------------------------------------------


@pytest.mark.parametrize(("index", "size", "expected"), INCLUSION_PROOFS)
def test_inclusion_proof_matches_reference(index: int, size: int, expected: list[bytes]) -> None:
    assert inclusion_proof(LEAF_HASHES, index, size) == expected
    assert verify_inclusion(LEAF_HASHES[index], index, size, expected, ROOTS[size])


def _inclusion_probes(
    index: int, size: int, proof: list[bytes], root_: bytes, lh: bytes
) -> list[tuple[str, tuple[bytes, int, int, list[bytes], bytes]]]:
    """The corruptions of proof/verify_test.go corruptInclusionProof."""
    probes = [
        ("index - 1", (lh, index - 1, size, proof, root_)),
        ("index + 1", (lh, index + 1, size, proof, root_)),
        ("index ^ 2", (lh, index ^ 2, size, proof, root_)),
        ("size * 2", (lh, index, size * 2, proof, root_)),
        ("size // 2", (lh, index, size // 2, proof, root_)),
        ("wrong leaf", (b"WrongLeaf", index, size, proof, root_)),
        ("empty root", (lh, index, size, proof, EMPTY_ROOT)),
        ("random root", (lh, index, size, proof, SOME_HASH)),
        ("trailing garbage", (lh, index, size, [*proof, b""], root_)),
        ("trailing root", (lh, index, size, [*proof, root_], root_)),
        ("preceding garbage", (lh, index, size, [b"", *proof], root_)),
        ("preceding root", (lh, index, size, [root_, *proof], root_)),
    ]
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = flip(bad[i])
        probes.append((f"modified proof[{i}]", (lh, index, size, bad, root_)))
    if proof:
        probes.append(("removed component", (lh, index, size, proof[:-1], root_)))
    if len(proof) > 1:
        probes.append(
            ("inserted component", (lh, index, size, [proof[0], SOME_HASH, *proof[1:]], root_))
        )
    return probes


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_PROOFS[:4])
def test_inclusion_reference_corruptions_fail(index: int, size: int, proof: list[bytes]) -> None:
    for desc, args in _inclusion_probes(index, size, proof, ROOTS[size], LEAF_HASHES[index]):
        assert not verify_inclusion(*args), desc


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_inclusion_degenerate_inputs_fail(index: int, size: int) -> None:
    assert not verify_inclusion(SOME_HASH, index, size, [], b"")
    assert not verify_inclusion(b"", index, size, [], EMPTY_ROOT)
    assert not verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)


def test_inclusion_single_entry() -> None:
    lh = leaf_hash(b"data")
    assert verify_inclusion(lh, 0, 1, [], lh)
    assert not verify_inclusion(b"", 0, 1, [], lh)
    assert not verify_inclusion(lh, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], b"")


def test_verify_inclusion_never_raises_on_garbage() -> None:
    lh = LEAF_HASHES[0]
    assert not verify_inclusion(lh, -1, 8, [], ROOTS[8])
    assert not verify_inclusion(lh, 0, -8, [], ROOTS[8])
    assert not verify_inclusion(lh, 0, 8, [None], ROOTS[8])  # type: ignore[list-item]
    assert not verify_inclusion(lh, 0, 8, 42, ROOTS[8])  # type: ignore[arg-type]
    assert not verify_inclusion(None, 0, 8, [], ROOTS[8])  # type: ignore[arg-type]
    assert not verify_inclusion(lh, "0", 8, [], ROOTS[8])  # type: ignore[arg-type]
    assert not verify_inclusion(lh, 0, 2**70, [SOME_HASH] * 3, ROOTS[8])


def test_inclusion_proof_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="index"):
        inclusion_proof(LEAF_HASHES, 8, 8)
    with pytest.raises(ValueError, match="index"):
        inclusion_proof(LEAF_HASHES, -1, 8)
    with pytest.raises(ValueError, match="size"):
        inclusion_proof(LEAF_HASHES, 0, 9)


# --- consistency -------------------------------------------------------------


@pytest.mark.parametrize(("old", "new", "expected"), CONSISTENCY_PROOFS)
def test_consistency_proof_matches_reference(old: int, new: int, expected: list[bytes]) -> None:
    assert consistency_proof(LEAF_HASHES, old, new) == expected
    assert verify_consistency(old, new, ROOTS[old], ROOTS[new], expected)


def _consistency_probes(
    old: int, new: int, r1: bytes, r2: bytes, proof: list[bytes]
) -> list[tuple[str, tuple[int, int, bytes, bytes, list[bytes]]]]:
    """The corruptions of proof/verify_test.go corruptConsistencyProof."""
    probes = [
        ("old - 1", (old - 1, new, r1, r2, proof)),
        ("old + 1", (old + 1, new, r1, r2, proof)),
        ("old ^ 2", (old ^ 2, new, r1, r2, proof)),
        ("new * 2", (old, new * 2, r1, r2, proof)),
        ("new // 2", (old, new // 2, r1, r2, proof)),
        ("wrong old root", (old, new, b"WrongRoot", r2, proof)),
        ("wrong new root", (old, new, r1, b"WrongRoot", proof)),
        ("flipped old root", (old, new, flip(r1), r2, proof)),
        ("flipped new root", (old, new, r1, flip(r2), proof)),
        ("swapped roots", (old, new, r2, r1, proof)),
        ("empty proof", (old, new, r1, r2, [])),
        ("trailing garbage", (old, new, r1, r2, [*proof, b""])),
        ("trailing root1", (old, new, r1, r2, [*proof, r1])),
        ("trailing root2", (old, new, r1, r2, [*proof, r2])),
        ("preceding garbage", (old, new, r1, r2, [b"", *proof])),
        ("preceding root1", (old, new, r1, r2, [r1, *proof])),
        ("preceding root2", (old, new, r1, r2, [r2, *proof])),
        ("preceding proof[0]", (old, new, r1, r2, [proof[0], *proof])),
        ("truncated proof", (old, new, r1, r2, proof[:-1])),
    ]
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = flip(bad[i], 4)
        probes.append((f"modified proof[{i}]", (old, new, r1, r2, bad)))
    return probes


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_PROOFS[1:])
def test_consistency_reference_corruptions_fail(old: int, new: int, proof: list[bytes]) -> None:
    for desc, args in _consistency_probes(old, new, ROOTS[old], ROOTS[new], proof):
        assert not verify_consistency(*args), desc


# proof/verify_test.go TestVerifyConsistency edge table. The Go test uses
# short "don't care" roots; ours must be 32 bytes (anything else is malformed
# and rejected), so distinct 32-byte stand-ins are used instead.
_R1, _R2 = leaf_hash(b"don't care 1"), leaf_hash(b"don't care 2")


@pytest.mark.parametrize(
    ("old", "new", "r1", "r2", "proof", "ok"),
    [
        (0, 0, _R1, _R2, [], False),
        (1, 1, _R1, _R2, [], False),
        (0, 0, _R1, _R1, [], True),
        (0, 1, _R1, _R2, [], True),
        (1, 1, _R2, _R2, [], True),
        (1, 0, _R1, _R2, [], False),
        (2, 1, _R1, _R2, [], False),
        (1, 2, _R1, _R2, [], False),
        (0, 0, EMPTY_ROOT, _R2, [], False),
        (1, 1, EMPTY_ROOT, _R2, [], False),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
    ],
)
def test_consistency_edge_cases(
    old: int, new: int, r1: bytes, r2: bytes, proof: list[bytes], ok: bool
) -> None:
    assert verify_consistency(old, new, r1, r2, proof) is ok


def test_verify_consistency_never_raises_on_garbage() -> None:
    proof = CONSISTENCY_PROOFS[2][2]
    assert not verify_consistency(6, 8, ROOTS[6], ROOTS[8], [None, *proof])  # type: ignore[list-item]
    assert not verify_consistency(6, 8, ROOTS[6], ROOTS[8], 7)  # type: ignore[arg-type]
    assert not verify_consistency(6, 8, None, ROOTS[8], proof)  # type: ignore[arg-type]
    assert not verify_consistency(6.0, 8, ROOTS[6], ROOTS[8], proof)  # type: ignore[arg-type]
    assert not verify_consistency(-6, 8, ROOTS[6], ROOTS[8], proof)
    assert not verify_consistency(6, 2**80, ROOTS[6], ROOTS[8], proof)


def test_consistency_proof_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="old size"):
        consistency_proof(LEAF_HASHES, 5, 4)
    with pytest.raises(ValueError, match="old size"):
        consistency_proof(LEAF_HASHES, -1, 4)
    with pytest.raises(ValueError, match="size"):
        consistency_proof(LEAF_HASHES, 1, 9)
    assert consistency_proof(LEAF_HASHES, 0, 8) == []
    assert consistency_proof(LEAF_HASHES, 8, 8) == []


# --- properties --------------------------------------------------------------


def _leaves(seed: bytes, n: int) -> list[bytes]:
    # Distinct leaves, so that "wrong leaf / wrong index" can never verify by
    # coincidence of equal leaf hashes.
    return [leaf_hash(seed + i.to_bytes(4, "big")) for i in range(n)]


seeds = st.binary(max_size=8)


@settings(max_examples=60, deadline=None)
@given(seed=seeds, n=st.integers(0, 300))
def test_prop_compact_range_root_equals_root(seed: bytes, n: int) -> None:
    leaves = _leaves(seed, n)
    cr = CompactRange()
    for lh in leaves:
        cr.append(lh)
    assert cr.size == n
    assert len(cr.hashes) == n.bit_count()
    assert cr.root() == root(leaves)


@settings(max_examples=60, deadline=None)
@given(seed=seeds, data=st.data())
def test_prop_restore_then_append_matches_fresh(seed: bytes, data: st.DataObject) -> None:
    n = data.draw(st.integers(0, 300), label="n")
    k = data.draw(st.integers(0, n), label="k")
    leaves = _leaves(seed, n)
    fresh = CompactRange()
    for lh in leaves:
        fresh.append(lh)
    first = CompactRange()
    for lh in leaves[:k]:
        first.append(lh)
    restored = CompactRange(first.size, first.hashes)
    assert restored.root() == first.root()
    for lh in leaves[k:]:
        restored.append(lh)
    assert restored == fresh
    assert restored.root() == fresh.root() == root(leaves)


@settings(max_examples=25, deadline=None)
@given(seed=seeds, n=st.integers(1, 300), data=st.data())
def test_prop_every_inclusion_proof_verifies(seed: bytes, n: int, data: st.DataObject) -> None:
    leaves = _leaves(seed, n)
    r = root(leaves)
    other_leaf = leaf_hash(b"not in the tree")
    for i in range(n):
        proof = inclusion_proof(leaves, i, n)
        assert verify_inclusion(leaves[i], i, n, proof, r)
        assert not verify_inclusion(other_leaf, i, n, proof, r)
        assert not verify_inclusion(leaves[i], (i + 1) % (n + 1), n, proof, r)
        assert not verify_inclusion(leaves[i], i, n, proof, flip(r))
        if proof:
            j = data.draw(st.integers(0, len(proof) - 1), label="tampered")
            bad = list(proof)
            bad[j] = flip(bad[j])
            assert not verify_inclusion(leaves[i], i, n, bad, r)
            assert not verify_inclusion(leaves[i], i, n, proof[:-1], r)
        assert not verify_inclusion(leaves[i], i, n, [*proof, r], r)


@settings(max_examples=150, deadline=None)
@given(seed=seeds, data=st.data())
def test_prop_consistency_proofs_verify(seed: bytes, data: st.DataObject) -> None:
    new = data.draw(st.integers(0, 300), label="new")
    old = data.draw(st.integers(0, new), label="old")
    leaves = _leaves(seed, new)
    r1, r2 = root(leaves[:old]), root(leaves)
    proof = consistency_proof(leaves, old, new)
    assert verify_consistency(old, new, r1, r2, proof)
    assert not verify_consistency(old, new, r1, r2, [*proof, r2])
    if old == new:
        assert proof == []
        assert not verify_consistency(old, new, r1, flip(r2), proof)
        return
    if old == 0:
        assert proof == []
        return
    assert proof
    j = data.draw(st.integers(0, len(proof) - 1), label="tampered")
    bad = list(proof)
    bad[j] = flip(bad[j])
    assert not verify_consistency(old, new, r1, r2, bad)
    assert not verify_consistency(old, new, flip(r1), r2, proof)
    assert not verify_consistency(old, new, r1, flip(r2), proof)
    assert not verify_consistency(old, new, r1, r2, proof[:-1])
    assert not verify_consistency(old - 1, new, r1, r2, proof)
    assert not verify_consistency(old + 1, new, r1, r2, proof)
    # A log that rewrote history: same sizes, different old leaves.
    forked = [leaf_hash(b"fork"), *leaves[1:]]
    assert not verify_consistency(old, new, root(forked[:old]), r2, proof)

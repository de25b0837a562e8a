"""RFC 6962 / RFC 9162 Merkle tree hashing, compact ranges and proofs.

Pure functions over 32-byte SHA-256 hashes. Leaves and interior nodes are
domain-separated (0x00 / 0x01 prefixes) so a leaf can never be passed off as
an interior node (second-preimage resistance, RFC 6962 §2.1).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
_sha256 = hashlib.sha256  # bound once: attribute lookups add up on the append path
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

EMPTY_ROOT: bytes = _sha256(b"").digest()
"""MTH({}) = SHA-256() per RFC 6962 §2.1."""


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) for hi - lo >= 1, by the RFC 6962 recursive definition.

    Index bounds instead of slices so a big tree is not copied per level.
    """
    n = hi - lo
    if n == 1:
        return leaves[lo]
    k = _split(n)
    return _sha256(_NODE_PREFIX + _mth(leaves, lo, lo + k) + _mth(leaves, lo + k, hi)).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 6962 Merkle Tree Hash over already-hashed leaves."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return _mth(leaf_hashes, 0, len(leaf_hashes))


class CompactRange:
    """Right frontier of an append-only Merkle tree: O(log n) state.

    ``hashes`` holds the roots of the perfect subtrees that tile [0, size),
    largest (leftmost) first: one per set bit of ``size``. That is all that is
    needed both to append and to compute the root, so a log can persist just
    (size, hashes) and restore with ``CompactRange(size, hashes)``.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0:
            raise ValueError(f"size must be non-negative, got {size}")
        if len(hashes) != size.bit_count():
            raise ValueError(
                f"a compact range of size {size} has {size.bit_count()} hashes, got {len(hashes)}"
            )
        for h in hashes:
            if len(h) != HASH_SIZE:
                raise ValueError(f"frontier hashes must be {HASH_SIZE} bytes, got {len(h)}")
        self._size = size
        self._hashes = [bytes(h) for h in hashes]

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf hash. Amortised O(1) node hashes (worst case log n)."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, got {len(leaf_hash)}")
        hashes = self._hashes
        h = leaf_hash
        n = self._size
        # Each trailing 1 bit of the old size is a same-sized subtree on the
        # frontier that the new node completes: merge it, like a binary carry.
        while n & 1:
            h = _sha256(_NODE_PREFIX + hashes.pop() + h).digest()
            n >>= 1
        hashes.append(h)
        self._size += 1

    def root(self) -> bytes:
        """MTH of the leaves so far: fold the frontier from the right."""
        hashes = self._hashes
        if not hashes:
            return EMPTY_ROOT
        h = hashes[-1]
        for i in range(len(hashes) - 2, -1, -1):
            h = _sha256(_NODE_PREFIX + hashes[i] + h).digest()
        return h

    def copy(self) -> CompactRange:
        clone = CompactRange.__new__(CompactRange)
        clone._size = self._size
        clone._hashes = self._hashes.copy()  # bytes are immutable: a shallow copy is enough
        return clone

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    # Mutable, so equal-by-value but deliberately unhashable.
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, hashes={len(self._hashes)})"


def _check_range(leaf_hashes: Sequence[bytes], size: int) -> None:
    if not 0 <= size <= len(leaf_hashes):
        raise ValueError(f"tree size {size} out of range [0, {len(leaf_hashes)}]")


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(index, D[0:size]), listed leaf-to-root."""
    _check_range(leaf_hashes, size)
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} out of range [0, {size})")
    path: list[bytes] = []
    lo, hi = 0, size
    # Walk down from the root; each level contributes the sibling subtree.
    # Collected root-to-leaf, so reverse at the end.
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(_mth(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:
            path.append(_mth(leaf_hashes, lo, lo + k))
            lo += k
    path.reverse()
    return path


def _valid_hash(h: object) -> bool:
    return isinstance(h, bytes) and len(h) == HASH_SIZE


def _valid_proof(proof: Sequence[bytes]) -> bool:
    # Proofs come off the wire: a non-sequence must give False, not a crash.
    try:
        return all(_valid_hash(p) for p in proof)
    except TypeError:
        return False


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2. False on any malformed input; never raises."""
    if not (_valid_hash(leaf_hash) and _valid_hash(root) and _valid_proof(proof)):
        return False
    if not (isinstance(index, int) and isinstance(size, int)) or not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False  # proof longer than the path
        if fn & 1 or fn == sn:
            r = _sha256(_NODE_PREFIX + p + r).digest()
            # Levels where our node is a lone rightmost child were promoted
            # without hashing: skip them.
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = _sha256(_NODE_PREFIX + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(old_size, D[0:new_size]).

    Empty when old_size is 0 or equal to new_size (nothing to prove).
    """
    _check_range(leaf_hashes, new_size)
    if not 0 <= old_size <= new_size:
        raise ValueError(f"old size {old_size} out of range [0, {new_size}]")
    if old_size in (0, new_size):
        return []
    path: list[bytes] = []
    m, lo, hi = old_size, 0, new_size
    whole = True  # SUBPROOF's b flag: the old tree is still the whole subtree
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            path.append(_mth(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:
            path.append(_mth(leaf_hashes, lo, lo + k))
            m -= k
            lo += k
            whole = False
    # The verifier already knows old_root, so the old subtree itself is only
    # sent when it is a strict part of the old tree.
    if not whole:
        path.append(_mth(leaf_hashes, lo, hi))
    path.reverse()
    return path


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2. False on any malformed input; never raises."""
    if not (_valid_hash(old_root) and _valid_hash(new_root) and _valid_proof(proof)):
        return False
    if not (isinstance(old_size, int) and isinstance(new_size, int)):
        return False
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return len(proof) == 0 and old_root == new_root
    if old_size == 0:
        # An empty tree is a prefix of every tree; there is nothing to check,
        # old_root included (as in RFC 9162 and the Go reference).
        return len(proof) == 0
    if len(proof) == 0:
        return False
    path = list(proof)
    # A perfect old tree is itself a node of the new tree, so its root is
    # the starting point rather than something the proof had to carry.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _sha256(_NODE_PREFIX + c + fr).digest()
            sr = _sha256(_NODE_PREFIX + c + sr).digest()
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = _sha256(_NODE_PREFIX + sr + c).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root

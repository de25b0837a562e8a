"""An in-memory, append-only RFC 6962 Merkle log that serves proofs for any past size.

``merkle.py`` computes proofs from the full list of leaf hashes, rehashing whole
subtrees each time: fine for tests and small blocks, too slow for a city's log.
``MerkleLog`` keeps every *complete* subtree hash instead: level 0 holds the leaf
hashes, level ``l`` the hashes of the aligned perfect subtrees of ``2**l`` leaves.
A node of level ``l`` and index ``i`` covers leaves ``[i * 2**l, (i + 1) * 2**l)``
and is stored as soon as its last leaf is appended, so appending costs one leaf
write plus, amortised, one node hash.

For a tree of any size ``n`` up to the log's size, every node of that tree is either
a complete subtree (a stored hash) or lies on its right edge, which is the fold of
the complete subtrees that tile ``[0, n)`` (one per set bit of ``n``): a proof costs
O(log n) look-ups and at most ``popcount(n) - 1`` hashes, never a rehash of the log.
The results are byte for byte those of ``merkle.inclusion_proof``,
``merkle.consistency_proof`` and ``merkle.root``.

Storage is one ``bytearray`` per level (32 bytes per hash, about 64 bytes per leaf in
all), not a list of ``bytes`` objects, which would cost three times that in object
headers.

Threads: appends take an internal lock (so any number of appenders is safe, though
one is the intended use); readers take no lock. Hashes are written before the size
that covers them is published, and nothing below a published size ever changes, so
a reader that first reads ``size`` sees every node it needs for trees up to that size.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable

from localpay.ledger.log.merkle import EMPTY_ROOT, HASH_SIZE

__all__ = ["MerkleLog"]

_sha256 = hashlib.sha256
_NODE_PREFIX = b"\x01"


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleLog:
    """Append-only log of 32-byte leaf hashes with O(log n) proofs for every past size."""

    __slots__ = ("_levels", "_lock", "_size")

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0
        self._lock = threading.Lock()
        self.extend(leaf_hashes)

    # -- appending ---------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of leaves appended (and published to readers)."""
        return self._size

    def __len__(self) -> int:
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        self.extend((leaf_hash,))

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append leaf hashes in order; all or nothing if one is not 32 bytes."""
        batch = [bytes(h) for h in leaf_hashes]
        for h in batch:
            if len(h) != HASH_SIZE:
                raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, got {len(h)}")
        if not batch:
            return
        with self._lock:
            levels = self._levels
            sha256 = _sha256
            prefix = _NODE_PREFIX
            n = self._size
            for h in batch:
                levels[0] += h
                # Node `index` of `level` is odd: it completes its parent, and so on up,
                # like the carry of a binary increment.
                index, level, node = n, 0, h
                while index & 1:
                    row = levels[level]
                    start = (index - 1) * HASH_SIZE
                    node = sha256(prefix + row[start : start + HASH_SIZE] + node).digest()
                    level += 1
                    index >>= 1
                    if level == len(levels):
                        levels.append(bytearray())
                    levels[level] += node
                n += 1
            self._size = n  # publish last: readers trust only what the size covers

    # -- reading -----------------------------------------------------------------------

    def leaf_hash(self, index: int) -> bytes:
        if not 0 <= index < self._size:
            raise ValueError(f"leaf index {index} out of range [0, {self._size})")
        return self._node(0, index)

    def _node(self, level: int, index: int) -> bytes:
        start = index * HASH_SIZE
        return bytes(self._levels[level][start : start + HASH_SIZE])

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self._size:
            raise ValueError(f"tree size {size} out of range [0, {self._size}]")

    def _right_edge(self, size: int) -> dict[int, bytes]:
        """MTH(D[lo:size]) for every lo where a complete subtree of the tiling of size starts.

        Those are exactly the right-edge nodes of the tree of that size (the root is lo=0).
        """
        starts: list[int] = []
        pieces: list[bytes] = []
        lo = 0
        for bit in range(size.bit_length() - 1, -1, -1):
            if size >> bit & 1:
                starts.append(lo)
                pieces.append(self._node(bit, lo >> bit))
                lo += 1 << bit
        edge: dict[int, bytes] = {}
        if not pieces:
            return edge
        acc = pieces[-1]
        edge[starts[-1]] = acc
        for i in range(len(pieces) - 2, -1, -1):
            acc = _sha256(_NODE_PREFIX + pieces[i] + acc).digest()
            edge[starts[i]] = acc
        return edge

    def _subtree(self, lo: int, hi: int, edge: dict[int, bytes], size: int) -> bytes:
        """MTH(D[lo:hi]) for a node of the tree of `size` (whose right edge is `edge`)."""
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:
            level = n.bit_length() - 1
            return self._node(level, lo >> level)
        if hi == size and lo in edge:
            return edge[lo]
        # Not a node of this tree: fall back on the definition (not reached by proofs).
        k = _split(n)
        left = self._subtree(lo, lo + k, edge, size)
        right = self._subtree(lo + k, hi, edge, size)
        return _sha256(_NODE_PREFIX + left + right).digest()

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first `size` leaves (default: all)."""
        n = self._size if size is None else size
        self._check_size(n)
        if n == 0:
            return EMPTY_ROOT
        return self._right_edge(n)[0]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 §2.1.3.1 PATH(index, D[0:size]), listed leaf-to-root."""
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} out of range [0, {size})")
        edge = self._right_edge(size)
        path: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:
            k = _split(hi - lo)
            if index < lo + k:
                path.append(self._subtree(lo + k, hi, edge, size))
                hi = lo + k
            else:
                path.append(self._subtree(lo, lo + k, edge, size))
                lo += k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 §2.1.4.1 PROOF(old_size, D[0:new_size]); empty if old is 0 or new."""
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise ValueError(f"old size {old_size} out of range [0, {new_size}]")
        if old_size in (0, new_size):
            return []
        edge = self._right_edge(new_size)
        path: list[bytes] = []
        m, lo, hi = old_size, 0, new_size
        whole = True
        while m != hi - lo:
            k = _split(hi - lo)
            if m <= k:
                path.append(self._subtree(lo + k, hi, edge, new_size))
                hi = lo + k
            else:
                path.append(self._subtree(lo, lo + k, edge, new_size))
                m -= k
                lo += k
                whole = False
        if not whole:
            path.append(self._subtree(lo, hi, edge, new_size))
        path.reverse()
        return path

    def __repr__(self) -> str:
        return f"MerkleLog(size={self._size})"

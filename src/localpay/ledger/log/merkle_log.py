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

Memory is bounded when the log is given a ``source`` of its leaf hashes (the store):
the nodes below ``chunk_level`` (the subtrees of ``2**chunk_level`` leaves, "chunks")
are kept only for the chunk being filled, the ``cached_chunks`` newest complete ones
(where receipts are asked) and as many older ones rebuilt last; the others are rebuilt
from their leaves on demand and checked against the chunk's root, which stays in
memory with every node above it. A million leaves then take ~64 KiB above the chunks
plus ~64 KiB per cached chunk (at the default level 10), instead of ~64 MiB. Proofs
are the same bytes either way. Without a source every chunk stays in memory (one
``bytearray`` per level: about 64 bytes per leaf in all).

Threads: appends take an internal lock (so any number of appenders is safe, though
one is the intended use); readers take no lock but the cache's. Hashes are written
before the size that covers them is published, and nothing below a published size
ever changes (a chunk's arrays are only appended to, then kept or dropped whole), so a
reader that first reads ``size`` sees every node it needs for trees up to that size.
"""

from __future__ import annotations

import collections
import hashlib
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from localpay.ledger.log.merkle import EMPTY_ROOT, HASH_SIZE

__all__ = ["LeafSource", "MerkleLog"]

_sha256 = hashlib.sha256
_NODE_PREFIX = b"\x01"

#: Leaves [start, end) of the log, as their 32-byte hashes (the store's leaf_hashes).
LeafSource = Callable[[int, int], Sequence[bytes]]
#: A chunk is the perfect subtree of 2**CHUNK_LEVEL leaves: 1,024 leaf hashes, 32 KiB,
#: one store read and ~1,000 hashes (~1 ms) to rebuild.
CHUNK_LEVEL: Final = 10
#: Complete chunks kept in memory with a source: the newest ones (where receipts are
#: asked), and as many of the older ones rebuilt last (an auditor's proofs).
CACHED_CHUNKS: Final = 4


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class _Chunk:
    """Levels 0 .. chunk_level - 1 of one chunk: its leaves and the nodes above them."""

    __slots__ = ("index", "levels")

    def __init__(self, index: int, chunk_level: int) -> None:
        self.index = index
        self.levels = [bytearray() for _ in range(chunk_level)]


class MerkleLog:
    """Append-only log of 32-byte leaf hashes with O(log n) proofs for every past size."""

    __slots__ = (
        "_cache_lock",
        "_cached",
        "_chunks",
        "_level",
        "_lock",
        "_rebuilt",
        "_size",
        "_source",
        "_tail",
        "_upper",
    )

    def __init__(
        self,
        leaf_hashes: Iterable[bytes] = (),
        source: LeafSource | None = None,
        chunk_level: int = CHUNK_LEVEL,
        cached_chunks: int = CACHED_CHUNKS,
    ) -> None:
        if chunk_level < 1:
            raise ValueError("chunk_level must be at least 1")
        self._level = chunk_level
        self._source = source
        self._cached = cached_chunks
        # _upper[j]: the nodes of level chunk_level + j (level chunk_level: chunk roots).
        self._upper: list[bytearray] = [bytearray()]
        self._tail = _Chunk(0, chunk_level)  # the chunk being filled
        # Complete chunks: the newest (all of them without a source), and older ones
        # rebuilt from the source, least recently used first.
        self._chunks: collections.OrderedDict[int, _Chunk] = collections.OrderedDict()
        self._rebuilt: collections.OrderedDict[int, _Chunk] = collections.OrderedDict()
        self._cache_lock = threading.Lock()
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
            top, upper, full = self._level, self._upper, (1 << self._level) - 1
            sha256, prefix = _sha256, _NODE_PREFIX
            n = self._size
            for h in batch:
                rows = self._tail.levels
                rows[0] += h
                # Node `index` of `level` is odd: it completes its parent, and so on up,
                # like the carry of a binary increment; below `top` in the chunk's rows.
                index, level, node = n, 0, h
                while index & 1:
                    row = rows[level] if level < top else upper[level - top]
                    start = ((index - 1) & full >> level if level < top else index - 1) * HASH_SIZE
                    node = sha256(prefix + row[start : start + HASH_SIZE] + node).digest()
                    level += 1
                    index >>= 1
                    if level < top:
                        rows[level] += node
                    else:
                        if level - top == len(upper):
                            upper.append(bytearray())
                        upper[level - top] += node
                if n & full == full:  # the chunk is complete: keep it aside, start the next
                    self._keep(self._tail, self._chunks)
                    self._tail = _Chunk((n >> top) + 1, top)
                n += 1
            self._size = n  # publish last: readers trust only what the size covers

    def _keep(self, chunk: _Chunk, kept: collections.OrderedDict[int, _Chunk]) -> None:
        with self._cache_lock:
            kept[chunk.index] = chunk
            while self._source is not None and len(kept) > self._cached:
                kept.popitem(last=False)

    @property
    def nbytes(self) -> int:
        """Bytes of node hashes held in memory."""
        with self._cache_lock:
            chunks = [self._tail, *self._chunks.values(), *self._rebuilt.values()]
        return sum(map(len, self._upper)) + sum(len(r) for c in chunks for r in c.levels)

    # -- reading -----------------------------------------------------------------------

    def leaf_hash(self, index: int) -> bytes:
        if not 0 <= index < self._size:
            raise ValueError(f"leaf index {index} out of range [0, {self._size})")
        return self._node(0, index)

    def _node(self, level: int, index: int) -> bytes:
        top = self._level
        if level >= top:
            start = index * HASH_SIZE
            return bytes(self._upper[level - top][start : start + HASH_SIZE])
        chunk_index = index >> (top - level)
        chunk = self._tail  # read once: the writer replaces it, never changes it back
        if chunk.index != chunk_index:
            chunk = self._chunk(chunk_index)
        start = (index - (chunk_index << (top - level))) * HASH_SIZE
        return bytes(chunk.levels[level][start : start + HASH_SIZE])

    def _chunk(self, index: int) -> _Chunk:
        """A complete chunk: from memory, or rebuilt from the source and checked."""
        with self._cache_lock:
            chunk = self._chunks.get(index)
            if chunk is not None:
                return chunk
            chunk = self._rebuilt.get(index)
            if chunk is not None:
                self._rebuilt.move_to_end(index)
                return chunk
        if self._source is None:
            raise AssertionError(f"chunk {index} missing from a log without a source")
        width = 1 << self._level
        hashes = self._source(index * width, (index + 1) * width)
        rebuilt = MerkleLog(hashes, chunk_level=self._level)
        root = self._upper[0][index * HASH_SIZE : (index + 1) * HASH_SIZE]
        if rebuilt.size != width or rebuilt._upper[0] != root:
            raise ValueError(
                f"leaves {index * width}..{(index + 1) * width - 1} from the source do not"
                " hash to the log's root of them"
            )
        chunk = rebuilt._chunks[0]
        chunk.index = index
        self._keep(chunk, self._rebuilt)
        return chunk

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

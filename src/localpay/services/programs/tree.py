"""An RFC 9162 Merkle tree kept whole in memory, for the proofs of a big batch.

`ledger.log.merkle.inclusion_proof` recomputes the subtrees for each proof (O(n) per
row); here every node is hashed once, bottom-up, and a proof is read off the levels in
O(log n). Bottom-up pairing with a lone last node carried up unchanged builds the same
tree as RFC 9162's split at the largest power of two (tests compare both).
"""

from __future__ import annotations

from localpay.ledger.log import merkle


class MemoTree:
    def __init__(self, leaves: list[bytes]) -> None:
        if not leaves:
            raise ValueError("a batch has at least one row")
        self.levels: list[list[bytes]] = [leaves]
        level = leaves
        while len(level) > 1:
            up = [merkle.node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                up.append(level[-1])
            self.levels.append(up)
            level = up

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def proof(self, index: int) -> list[bytes]:
        """The audit path of leaf `index`, from the leaf up (RFC 9162 order)."""
        path: list[bytes] = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            index //= 2
        return path

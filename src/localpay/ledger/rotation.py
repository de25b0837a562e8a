"""The chain of operator keys: the genesis key, then each rotate_operator's new key.

A rotation recorded in block N takes effect from block N + 1: block N and its checkpoint
are still signed by the old key (it vouches for its own replacement), every later block
and checkpoint by the new one. The sequencer, the replay (verify, import, witnesses) and
the receipts all follow this one rule.
"""

from __future__ import annotations

import nacl.bindings

from localpay.ledger.state import CityState


def valid_point(key_hex: str) -> bool:
    """Is this hex (already checked to be 64 digits) an Ed25519 public key a signature can
    verify under: a point on the curve, in the prime-order group, not of small order?"""
    return bool(nacl.bindings.crypto_core_ed25519_is_valid_point(bytes.fromhex(key_hex)))


def operator_keys(state: CityState) -> list[str]:
    """Every key that has signed the city's blocks, oldest (the genesis key) first."""
    assert state.genesis is not None
    return [state.genesis.operator_key, *(r.key for r in state.authorities.rotations)]


def retired_by(state: CityState, key_hex: str) -> str | None:
    """The id of the rotation that retired `key_hex`, if it is a former operator key."""
    keys = operator_keys(state)
    rotations = state.authorities.rotations
    for n, key in enumerate(keys[:-1]):
        if key == key_hex:
            return rotations[n].id
    return None

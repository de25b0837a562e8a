"""Ed25519 checks for batches of commands, in parallel across cores.

PyNaCl releases the GIL inside libsodium, so plain threads verify in parallel
(measured: two threads give 1.9x one on this 2-core machine) while the calling thread
waits, as the sequencer does. A replay of a whole chain does not wait: its thread
re-executes the previous batch meanwhile, holding the GIL, and a verifying thread then
gets the GIL back only every switch interval (5 ms) for each signature. So the replay
checks envelopes ahead in worker processes (`EnvelopeChecker`).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Final

import msgspec
import nacl.bindings
import nacl.exceptions
import nacl.signing

from localpay.domain.commands import (
    Command,
    Envelope,
    Signature,
    encode_canonical,
    signing_message,
)

#: Below this many commands a batch is checked on the calling thread: handing work
#: to the pool costs more than it saves.
PARALLEL_THRESHOLD: Final = 64

Item = tuple[bytes, Sequence[Signature]]

_envelope_decoder: Final = msgspec.json.Decoder(Envelope)


def verify_one(body: bytes, sigs: Sequence[Signature]) -> frozenset[str] | None:
    """The set of keys that signed `body`, or None if any signature fails."""
    message = signing_message(body)
    keys = []
    for s in sigs:
        try:
            nacl.bindings.crypto_sign_open(bytes.fromhex(s.sig) + message, bytes.fromhex(s.key))
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            return None
        keys.append(s.key)
    return frozenset(keys)


def _verify_chunk(items: Sequence[Item]) -> list[frozenset[str] | None]:
    return [verify_one(body, sigs) for body, sigs in items]


class SignatureVerifier:
    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="ed25519")

    def verify(self, items: Sequence[Item]) -> list[frozenset[str] | None]:
        if len(items) < PARALLEL_THRESHOLD or self.workers == 1:
            return _verify_chunk(items)
        size = -(-len(items) // self.workers)
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        out: list[frozenset[str] | None] = []
        for part in self._pool.map(_verify_chunk, chunks):
            out.extend(part)
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=False)


def envelopes_verified(envelopes: Sequence[bytes]) -> bytes:
    """One byte per envelope: 1 if every signature of it verifies (its signers are then
    exactly the keys it names), else 0. Only the envelope is decoded: the caller decodes
    the command itself, and refuses an unreadable one whatever this says."""
    out = bytearray(len(envelopes))
    for n, raw in enumerate(envelopes):
        try:
            envelope = _envelope_decoder.decode(raw)
        except (msgspec.MsgspecError, ValueError, RecursionError):
            continue
        out[n] = verify_one(bytes(envelope.body), envelope.sigs) is not None
    return bytes(out)


class EnvelopeChecker:
    """`envelopes_verified` for batches, in `workers` processes (none: on the caller's
    thread). Each batch is split across all workers, so one batch uses every core."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        # spawn, not fork: the caller holds store connections and threads.
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(self.workers, context) if self.workers else None

    def submit(self, envelopes: Sequence[bytes]) -> list[Future[bytes]]:
        """Futures whose results, concatenated, are `envelopes_verified(envelopes)`."""
        if self._pool is None or len(envelopes) < PARALLEL_THRESHOLD:
            done: Future[bytes] = Future()
            done.set_result(envelopes_verified(envelopes))
            return [done]
        size = -(-len(envelopes) // self.workers)
        return [
            self._pool.submit(envelopes_verified, envelopes[i : i + size])
            for i in range(0, len(envelopes), size)
        ]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def sign_command(command: Command, keys: Sequence[nacl.signing.SigningKey]) -> bytes:
    """The canonical envelope of `command` signed by each key (what clients send)."""
    body = encode_canonical(command)
    message = signing_message(body)
    sigs = [
        Signature(key=k.verify_key.encode().hex(), sig=k.sign(message).signature.hex())
        for k in keys
    ]
    return encode_canonical(Envelope(body=msgspec.Raw(body), sigs=sigs))


def public_key_hex(key: nacl.signing.SigningKey) -> str:
    return bytes(key.verify_key).hex()

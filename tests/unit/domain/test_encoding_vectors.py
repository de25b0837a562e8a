"""Canonical encoding and signing: pinned test vectors (the same bytes as docs/encoding.md)."""

from __future__ import annotations

import contextlib

import nacl.signing
import pytest
from hypothesis import given
from hypothesis import strategies as st

from localpay.domain import commands as c
from localpay.ledger.signatures import sign_command, verify_one

SEED = bytes(range(32))
PUBLIC = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
PAY = c.Pay(
    id="0123456789abcdef0123456789abcdef",
    city="gimpo",
    wallet="w-0000001",
    merchant="m-00042",
    amount=17000,
    evidence="",
)
BODY = (
    b'{"amount":17000,"city":"gimpo","evidence":"","id":"0123456789abcdef0123456789abcdef",'
    b'"merchant":"m-00042","type":"pay","wallet":"w-0000001"}'
)
SIG = (
    "439106818f78d6edcf2012c3927a3c37cc84d5982ab186f0379887b8d53bd3f1"
    "644f42aaf9cd6682e5d0fee902ff230549ed3edd9a2193e6506a46e261342304"
)
ENVELOPE = (
    b'{"body":'
    + BODY
    + b',"sigs":[{"key":"'
    + PUBLIC.encode()
    + b'","sig":"'
    + SIG.encode()
    + b'"}]}'
)


def test_the_pay_vector_encodes_signs_and_wraps_exactly() -> None:
    key = nacl.signing.SigningKey(SEED)
    assert bytes(key.verify_key).hex() == PUBLIC
    assert c.encode_canonical(PAY) == BODY
    assert c.signing_message(BODY) == b"localpay/command/v1\n" + BODY
    assert key.sign(c.signing_message(BODY)).signature.hex() == SIG
    assert sign_command(PAY, [key]) == ENVELOPE


def test_korean_text_is_raw_utf8_and_keys_are_sorted() -> None:
    genesis = c.CreateCity(
        id="0" * 32,
        city="gimpo",
        name="김포시",
        currency="KRW",
        operator_key=PUBLIC,
        officials=[c.Official(key=PUBLIC, role="maker")],
        approvals={"mint": 1},
        default_valid_days=1825,
    )
    body = c.encode_canonical(genesis)
    assert "김포시".encode() in body
    assert body.startswith(b'{"approvals":{"mint":1},"city":"gimpo","currency":"KRW",')


def test_the_vector_decodes_and_verifies() -> None:
    envelope, command = c.decode_envelope(ENVELOPE)
    assert command == PAY
    assert verify_one(bytes(envelope.body), envelope.sigs) == frozenset({PUBLIC})


@pytest.mark.parametrize(
    "body",
    [
        BODY.replace(b'"amount":17000,', b'"amount": 17000,'),  # a space
        b'{"city":"gimpo",' + BODY[1:].replace(b'"city":"gimpo",', b""),  # keys out of order
    ],
)
def test_a_non_canonical_body_is_refused(body: bytes) -> None:
    with pytest.raises(c.DecodeError) as refused:
        c.decode_envelope(ENVELOPE.replace(BODY, body))
    assert refused.value.code == "not_canonical"


@pytest.mark.parametrize(
    ("mutation", "says"),
    [
        (lambda e: e.replace(b'"amount":17000', b'"amount":"17000"'), "Expected `int`"),
        (lambda e: e.replace(b',"evidence":""', b""), "missing required field `evidence`"),
        (lambda e: e.replace(b'"evidence":""', b'"evidence":"","extra":1'), "unknown field"),
        (lambda e: e.replace(b"0123456789abcdef0123", b"XYZ3456789abcdef0123"), "id"),
        (lambda e: e[:-5], "not JSON"),
        (lambda e: e + b" " * 9000, "larger than"),
    ],
)
def test_a_malformed_command_is_refused_with_a_specific_reason(mutation, says) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(c.DecodeError) as refused:
        c.decode_envelope(mutation(ENVELOPE))
    assert refused.value.code == "malformed"
    assert says in str(refused.value)


def test_a_signature_by_another_key_or_of_other_bytes_does_not_verify() -> None:
    envelope, _ = c.decode_envelope(ENVELOPE)
    other = nacl.signing.SigningKey.generate()
    forged = [c.Signature(key=bytes(other.verify_key).hex(), sig=SIG)]
    assert verify_one(bytes(envelope.body), forged) is None
    assert verify_one(BODY.replace(b"17000", b"17001"), envelope.sigs) is None
    assert verify_one(BODY, [c.Signature(key="00" * 32, sig=SIG)]) is None


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_but_decode_error(data: bytes) -> None:
    with contextlib.suppress(c.DecodeError):
        c.decode_envelope(data)


@given(st.integers(0, len(ENVELOPE) - 1), st.integers(0, 255))
def test_any_one_byte_change_is_refused_or_fails_its_signature(at: int, value: int) -> None:
    mutated = ENVELOPE[:at] + bytes([value]) + ENVELOPE[at + 1 :]
    if mutated == ENVELOPE:
        return
    try:
        envelope, _ = c.decode_envelope(mutated)
    except c.DecodeError:
        return
    assert verify_one(bytes(envelope.body), envelope.sigs) is None


ROTATE_BODY = (
    b'{"city":"gimpo","id":"ffeeddccbbaa99887766554433221100",'
    b'"new_key":"29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7",'
    b'"old_key":"03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8",'
    b'"type":"rotate_operator"}'
)
ROTATE_SIG = (
    "800f18754ac825d1bfdeb7aa4939fca6466461091b70d232a7f8f3fc97c3bea8"
    "d0700f5c25fcb110540e648cd1be1e7f5414a4ccd5e5a4ca3d73090aeda22504"
)


def test_the_rotate_operator_vector_encodes_and_signs_exactly() -> None:
    old, new = nacl.signing.SigningKey(SEED), nacl.signing.SigningKey(bytes(range(32, 64)))
    command = c.RotateOperator(
        id="ffeeddccbbaa99887766554433221100",
        city="gimpo",
        old_key=bytes(old.verify_key).hex(),
        new_key=bytes(new.verify_key).hex(),
    )
    assert c.encode_canonical(command) == ROTATE_BODY
    assert old.sign(c.signing_message(ROTATE_BODY)).signature.hex() == ROTATE_SIG
    envelope, decoded = c.decode_envelope(sign_command(command, [old]))
    assert decoded == command and bytes(envelope.body) == ROTATE_BODY

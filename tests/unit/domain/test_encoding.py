"""Canonical encoding and signing: pinned test vectors, the same bytes as docs/encoding.md.

The vectors were computed once by the code and checked by hand against the rules:
UTF-8 JSON, object keys sorted by their bytes at every level (the `type` tag included),
no whitespace, integers only, every field present, array order kept, non-ASCII text as
raw UTF-8. The signatures are also checked with an independent Ed25519 implementation
(`cryptography`), so a change in either library cannot move them silently.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgspec
import nacl.signing
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from localpay.domain import commands as c
from localpay.domain.commands import SIGNING_PREFIX
from localpay.domain.limits import AMOUNT_MAX, COMMAND_BYTES_MAX, REVENUE_MAX, VALID_DAYS_MAX
from localpay.domain.policy import Policy
from localpay.ledger.blocks import (
    BlockHeader,
    encode_header,
    encode_result,
    header_hash,
    leaf_bytes,
    origin,
)
from localpay.ledger.log import merkle
from localpay.ledger.results import Result
from localpay.ledger.signatures import public_key_hex, sign_command, verify_one

SEED = bytes(range(32))
KEY = nacl.signing.SigningKey(SEED)
PUBLIC = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"

# -- vector 1: a payment -------------------------------------------------------------------

PAY = c.Pay(
    id="0123456789abcdef0123456789abcdef",
    city="gimpo",
    wallet="w-0000001",
    merchant="m-00042",
    amount=17000,
    evidence="",
)
PAY_BODY = (
    b'{"amount":17000,"city":"gimpo","evidence":"","id":"0123456789abcdef0123456789abcdef",'
    b'"merchant":"m-00042","type":"pay","wallet":"w-0000001"}'
)
PAY_SIG = (
    "439106818f78d6edcf2012c3927a3c37cc84d5982ab186f0379887b8d53bd3f1"
    "644f42aaf9cd6682e5d0fee902ff230549ed3edd9a2193e6506a46e261342304"
)
PAY_ENVELOPE = (
    b'{"body":{"amount":17000,"city":"gimpo","evidence":"",'
    b'"id":"0123456789abcdef0123456789abcdef","merchant":"m-00042","type":"pay",'
    b'"wallet":"w-0000001"},"sigs":[{"key":"03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1d'
    b'dc8664125531b8","sig":"439106818f78d6edcf2012c3927a3c37cc84d5982ab186f0379887b8d53bd3f1'
    b'644f42aaf9cd6682e5d0fee902ff230549ed3edd9a2193e6506a46e261342304"}]}'
)

# -- vector 2: opening a wallet ------------------------------------------------------------

OPEN = c.OpenWallet(
    id="00112233445566778899aabbccddeeff",
    city="gimpo",
    wallet="w-0000001",
    keys=[PUBLIC],
    custodial=False,
)
OPEN_BODY = (
    b'{"city":"gimpo","custodial":false,"id":"00112233445566778899aabbccddeeff",'
    b'"keys":["03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"],'
    b'"type":"open_wallet","wallet":"w-0000001"}'
)
OPEN_SIG = (
    "a613943164652bf5afc5424f0e309db754096d87ee422e6f366470c548f0c347"
    "d55593e3d38c2b146d552aefc5e97d422f6af4352116b5f0b6d0c7546b8fae08"
)
OPEN_ENVELOPE = (
    b'{"body":{"city":"gimpo","custodial":false,"id":"00112233445566778899aabbccddeeff",'
    b'"keys":["03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"],'
    b'"type":"open_wallet","wallet":"w-0000001"},"sigs":[{"key":"03a107bff3ce10be1d70dd18e74b'
    b'c09967e4d6309ba50d5f1ddc8664125531b8","sig":"a613943164652bf5afc5424f0e309db754096d87ee4'
    b'22e6f366470c548f0c347d55593e3d38c2b146d552aefc5e97d422f6af4352116b5f0b6d0c7546b8fae08"}]}'
)

# -- vector 3: a program with a Korean name (nested object, lists, raw UTF-8) --------------

YOUTH = Policy(
    name="청년기본소득",
    allowed_categories=[],
    denied_categories=["department_store"],
    areas=["gurae", "tongjin"],
    revenue_cap=3_000_000_000,
    valid_until="2026-12-31",
    valid_days=90,
    per_payment_cap=0,
    daily_cap=0,
    monthly_cap=500_000,
    holding_cap=1_500_000,
    transferable=False,
    refundable=False,
)
DEFINE = c.DefineProgram(
    id="fedcba9876543210fedcba9876543210", city="gimpo", program="youth", policy=YOUTH
)
# "청년기본소득" is the 18 UTF-8 bytes ec b2 ad eb 85 84 ea b8 b0 eb b3 b8 ec 86 8c eb 93 9d.
DEFINE_BODY = (
    b'{"city":"gimpo","id":"fedcba9876543210fedcba9876543210","policy":{"allowed_categories":[],'
    b'"areas":["gurae","tongjin"],"daily_cap":0,"denied_categories":["department_store"],'
    b'"holding_cap":1500000,"monthly_cap":500000,'
    b'"name":"\xec\xb2\xad\xeb\x85\x84\xea\xb8\xb0\xeb\xb3\xb8\xec\x86\x8c\xeb\x93\x9d",'
    b'"per_payment_cap":0,"refundable":false,"revenue_cap":3000000000,"transferable":false,'
    b'"valid_days":90,"valid_until":"2026-12-31"},"program":"youth","type":"define_program"}'
)
DEFINE_SIG = (
    "3aee8b63fef11148973a312a536481e0b13fd051c81657261081de8215939786"
    "f2e7f372bc384feba098017b9fa13b9749d756647bac589e44be53d51f79140c"
)
DEFINE_ENVELOPE = (
    b'{"body":' + DEFINE_BODY + b',"sigs":[{"key":"' + PUBLIC.encode() + b'","sig":"'
    b"3aee8b63fef11148973a312a536481e0b13fd051c81657261081de8215939786"
    b'f2e7f372bc384feba098017b9fa13b9749d756647bac589e44be53d51f79140c"}]}'
)

VECTORS = [
    pytest.param(PAY, PAY_BODY, PAY_SIG, PAY_ENVELOPE, id="pay"),
    pytest.param(OPEN, OPEN_BODY, OPEN_SIG, OPEN_ENVELOPE, id="open_wallet"),
    pytest.param(DEFINE, DEFINE_BODY, DEFINE_SIG, DEFINE_ENVELOPE, id="define_program"),
]


def test_the_seed_gives_the_pinned_public_key() -> None:
    assert public_key_hex(KEY) == PUBLIC
    raw = Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes_raw()
    assert raw.hex() == PUBLIC


@pytest.mark.parametrize(("command", "body", "sig", "envelope"), VECTORS)
def test_the_body_is_the_pinned_canonical_bytes(command, body, sig, envelope) -> None:  # type: ignore[no-untyped-def]
    assert c.encode_canonical(command) == body


@pytest.mark.parametrize(("command", "body", "sig", "envelope"), VECTORS)
def test_the_signing_message_is_the_prefix_then_the_body(command, body, sig, envelope) -> None:  # type: ignore[no-untyped-def]
    assert SIGNING_PREFIX == b"localpay/command/v1\n"
    assert c.signing_message(body) == b"localpay/command/v1\n" + body


@pytest.mark.parametrize(("command", "body", "sig", "envelope"), VECTORS)
def test_the_signature_is_the_pinned_ed25519_signature(command, body, sig, envelope) -> None:  # type: ignore[no-untyped-def]
    message = b"localpay/command/v1\n" + body
    assert KEY.sign(message).signature.hex() == sig
    assert Ed25519PrivateKey.from_private_bytes(SEED).sign(message).hex() == sig


@pytest.mark.parametrize(("command", "body", "sig", "envelope"), VECTORS)
def test_sign_command_makes_the_pinned_envelope(command, body, sig, envelope) -> None:  # type: ignore[no-untyped-def]
    assert sign_command(command, [KEY]) == envelope


@pytest.mark.parametrize(("command", "body", "sig", "envelope"), VECTORS)
def test_the_pinned_envelope_decodes_and_verifies(command, body, sig, envelope) -> None:  # type: ignore[no-untyped-def]
    decoded, decoded_command = c.decode_envelope(envelope)
    assert decoded_command == command
    assert bytes(decoded.body) == body
    assert verify_one(bytes(decoded.body), decoded.sigs) == frozenset({PUBLIC})


def test_korean_text_is_raw_utf8_never_escaped() -> None:
    assert "청년기본소득".encode() in DEFINE_BODY
    assert b"\\u" not in DEFINE_BODY


# -- what the encoder emits for awkward text (pinned: it defines canonical) ----------------


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("김포", b'"\xea\xb9\x80\xed\x8f\xac"'),  # raw UTF-8
        ("\n", b'"\\n"'),  # short escapes for the JSON specials
        ("\t", b'"\\t"'),
        ("\r", b'"\\r"'),
        ("\b", b'"\\b"'),
        ("\f", b'"\\f"'),
        ("\x00", b'"\\u0000"'),
        ('"', b'"\\""'),
        ("\\", b'"\\\\"'),
        ("\x01", b'"\\u0001"'),  # other control characters: lowercase \u00xx
        ("\x1f", b'"\\u001f"'),
        ("\x7f", b'"\x7f"'),  # DEL is not escaped
        ("\u2028", b'"\xe2\x80\xa8"'),  # nor are line separators
        ("/", b'"/"'),
    ],
)
def test_canonical_string_escapes_are_pinned(text: str, encoded: bytes) -> None:
    assert c.encode_canonical(text) == encoded


# -- non-canonical bodies ------------------------------------------------------------------


def refused(data: bytes) -> c.DecodeError:
    with pytest.raises(c.DecodeError) as caught:
        c.decode_envelope(data)
    return caught.value


@pytest.mark.parametrize(
    ("envelope", "old", "new"),
    [
        (PAY_ENVELOPE, b'"amount":17000,', b'"amount": 17000,'),
        (PAY_ENVELOPE, b'"amount":17000,', b'"amount":17000 ,'),
        (PAY_ENVELOPE, b',"type":"pay"', b',\n"type":"pay"'),
        (
            PAY_ENVELOPE,
            b'{"amount":17000,"city":"gimpo",',
            b'{"city":"gimpo","amount":17000,',
        ),
        (PAY_ENVELOPE, b'"city":"gimpo"', b'"city":"\\u0067impo"'),
        (PAY_ENVELOPE, b'"city":"gimpo"', b'"city":"gimpo","city":"gimpo"'),
        (DEFINE_ENVELOPE, b'"daily_cap":0', b'"daily_cap":-0'),
        (DEFINE_ENVELOPE, "청년".encode(), b"\\uccad\\ub144"),
        (DEFINE_ENVELOPE, "청년".encode(), b"\\uCCAD\\uB144"),
    ],
    ids=[
        "space-after-colon",
        "space-before-comma",
        "newline",
        "unsorted-keys",
        "escaped-ascii",
        "duplicate-key",
        "minus-zero",
        "escaped-korean",
        "escaped-korean-uppercase",
    ],
)
def test_a_non_canonical_body_is_not_canonical(envelope: bytes, old: bytes, new: bytes) -> None:
    assert old in envelope
    error = refused(envelope.replace(old, new, 1))
    assert error.code == "not_canonical"
    assert "canonical" in str(error)


def test_nested_keys_out_of_order_are_not_canonical() -> None:
    swapped = DEFINE_ENVELOPE.replace(
        b'"allowed_categories":[],"areas":["gurae","tongjin"]',
        b'"areas":["gurae","tongjin"],"allowed_categories":[]',
    )
    assert refused(swapped).code == "not_canonical"


def test_whitespace_outside_the_body_is_accepted_because_only_the_body_is_signed() -> None:
    loose = PAY_ENVELOPE.replace(b'{"body":', b'{ "body" : ').replace(b',"sigs":', b' , "sigs": ')
    envelope, command = c.decode_envelope(loose + b"\n")
    assert command == PAY
    assert bytes(envelope.body) == PAY_BODY


# -- malformed input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (b'"evidence":""', b'"evidence":"","extra":1', "unknown field `extra`"),
        (b',"evidence":""', b"", "missing required field `evidence`"),
        (b'"type":"pay",', b"", "missing required field `type`"),
        (b"17000", b'"17000"', "Expected `int`, got `str` - at `$.amount`"),
        (b"17000", b"17000.0", "Expected `int`, got `float` - at `$.amount`"),
        (b"17000", b"1.7e4", "Expected `int`, got `float` - at `$.amount`"),
        (b"17000", b"true", "Expected `int`, got `bool` - at `$.amount`"),
        (b"17000", b"017000", "not JSON"),
        (b"0123456789abcdef0123", b"0123456789ABCDEF0123", "at `$.id`"),
        (b"0123456789abcdef0123456789abcdef", b"0123456789abcdef", "at `$.id`"),
        (b'"gimpo"', b'"Gimpo"', "at `$.city`"),
        (b'"w-0000001"', b'"W 1"', "at `$.wallet`"),
        (b'"evidence":""', b'"evidence":"a b"', "at `$.evidence`"),
        (b'"type":"pay"', b'"type":"steal"', "Invalid value 'steal' - at `$.type`"),
        (b"03a107bff3", b"03A107BFF3", "at `$.sigs[0].key`"),
        (b'304"}', b'30"}', "at `$.sigs[0].sig`"),
        (b'"evidence":""', b'"evidence":"\xff"', "unreadable"),
    ],
    ids=[
        "unknown-field",
        "missing-field",
        "missing-type",
        "string-amount",
        "float-amount",
        "exponent-amount",
        "bool-amount",
        "leading-zero",
        "uppercase-id",
        "short-id",
        "bad-city",
        "bad-wallet",
        "space-in-reference",
        "unknown-type",
        "uppercase-key",
        "short-signature",
        "invalid-utf8",
    ],
)
def test_a_malformed_command_is_malformed_and_says_why(old: bytes, new: bytes, says: str) -> None:
    assert old in PAY_ENVELOPE
    error = refused(PAY_ENVELOPE.replace(old, new, 1))
    assert error.code == "malformed"
    assert says in str(error)


def test_an_envelope_without_signatures_or_with_too_many_is_malformed() -> None:
    head, _, _ = PAY_ENVELOPE.partition(b'"sigs":')
    one = PAY_ENVELOPE[len(head) + len(b'"sigs":[') : -2]
    assert "length >= 1 - at `$.sigs`" in str(refused(head + b'"sigs":[]}'))
    five = head + b'"sigs":[' + b",".join([one] * 5) + b"]}"
    assert "length <= 4 - at `$.sigs`" in str(refused(five))
    assert "missing required field `sigs`" in str(refused(head.rstrip(b",") + b"}"))


def test_an_unknown_envelope_field_is_malformed() -> None:
    error = refused(PAY_ENVELOPE[:-1] + b',"note":"hi"}')
    assert (error.code, "unknown field `note`" in str(error)) == ("malformed", True)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "not JSON"),
        (b"\x00", "not JSON"),
        (b"[]", "Expected `object`, got `array`"),
        (b'{"body":"pay","sigs":[]}', "Expected `array` of length >= 1"),
    ],
)
def test_garbage_is_malformed(data: bytes, says: str) -> None:
    error = refused(data)
    assert error.code == "malformed"
    assert says in str(error)


def test_a_body_that_is_not_an_object_is_malformed() -> None:
    not_object = PAY_ENVELOPE.replace(PAY_BODY, b'"pay"')
    assert "Expected `object`, got `str`" in str(refused(not_object))


def test_input_larger_than_the_limit_is_malformed_before_parsing() -> None:
    error = refused(PAY_ENVELOPE + b" " * (COMMAND_BYTES_MAX + 1 - len(PAY_ENVELOPE)))
    assert (error.code, str(error)) == (
        "malformed",
        f"command larger than {COMMAND_BYTES_MAX} bytes",
    )
    padded = PAY_ENVELOPE + b" " * (COMMAND_BYTES_MAX - len(PAY_ENVELOPE))
    assert c.decode_envelope(padded)[1] == PAY


GENESIS = c.CreateCity(
    id="b" * 32,
    city="gimpo",
    name="김포시",
    currency="KRW",
    operator_key=PUBLIC,
    officials=[c.Official(key=PUBLIC, role="maker")],
    approvals={"mint": 2},
    default_valid_days=1825,
)
REGISTER = c.RegisterMerchant(
    id="c" * 32,
    city="gimpo",
    merchant="m-00042",
    keys=[PUBLIC],
    category="bakery",
    area="gurae",
    annual_revenue=100_000_000,
    registration_hash="ab" * 32,
)
WITNESSES = c.SetWitnesses(id="d" * 32, city="gimpo", witnesses=[], quorum=0)


def with_policy(**change: object) -> c.DefineProgram:
    return msgspec.structs.replace(DEFINE, policy=msgspec.structs.replace(YOUTH, **change))


@pytest.mark.parametrize(
    ("command", "path", "bound"),
    [
        (msgspec.structs.replace(PAY, amount=10**30), "$.amount", "<= 10000000000"),
        (msgspec.structs.replace(PAY, amount=AMOUNT_MAX + 1), "$.amount", "<= 10000000000"),
        (msgspec.structs.replace(PAY, amount=0), "$.amount", ">= 1"),
        (msgspec.structs.replace(PAY, amount=-17000), "$.amount", ">= 1"),
        (msgspec.structs.replace(REGISTER, annual_revenue=2**53 + 1), "$.annual_revenue", "<="),
        (msgspec.structs.replace(REGISTER, annual_revenue=-1), "$.annual_revenue", ">= 0"),
        (with_policy(valid_days=10_000_000), "$.policy.valid_days", "<= 36600"),
        (with_policy(valid_days=-1), "$.policy.valid_days", ">= 0"),
        (with_policy(daily_cap=AMOUNT_MAX + 1), "$.policy.daily_cap", "<= 10000000000"),
        (with_policy(revenue_cap=2**64), "$.policy.revenue_cap", "<= 10000000000"),
        (with_policy(holding_cap=-1), "$.policy.holding_cap", ">= 0"),
        (msgspec.structs.replace(WITNESSES, quorum=17), "$.quorum", "<= 16"),
        (msgspec.structs.replace(WITNESSES, quorum=-1), "$.quorum", ">= 0"),
        (msgspec.structs.replace(GENESIS, approvals={"mint": 0}), "$.approvals", ">= 1"),
        (msgspec.structs.replace(GENESIS, approvals={"mint": 2**63}), "$.approvals", "<= 4"),
        (
            msgspec.structs.replace(GENESIS, approvals={f"rule{n}": 2 for n in range(17)}),
            "$.approvals",
            "length <= 16",
        ),
        (msgspec.structs.replace(GENESIS, default_valid_days=0), "$.default_valid_days", ">= 1"),
        (
            msgspec.structs.replace(GENESIS, default_valid_days=10**7),
            "$.default_valid_days",
            "<= 36600",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_integers_are_bounded_when_decoded_and_the_reason_names_the_field(
    command: c.Command, path: str, bound: str
) -> None:
    error = refused(sign_command(command, [KEY]))
    assert error.code == "malformed"
    assert path in str(error) and bound in str(error), str(error)


def test_the_bounds_themselves_decode() -> None:
    for command in [
        msgspec.structs.replace(PAY, amount=AMOUNT_MAX),
        msgspec.structs.replace(PAY, amount=1),
        msgspec.structs.replace(REGISTER, annual_revenue=REVENUE_MAX),
        with_policy(valid_days=VALID_DAYS_MAX, daily_cap=AMOUNT_MAX, monthly_cap=AMOUNT_MAX),
        msgspec.structs.replace(GENESIS, approvals={"mint": 4}, default_valid_days=36_600),
    ]:
        assert c.decode_envelope(sign_command(command, [KEY]))[1] == command


# -- signatures ----------------------------------------------------------------------------


def test_a_wrong_signature_does_not_verify() -> None:
    flipped = ("0" if PAY_SIG[0] != "0" else "1") + PAY_SIG[1:]
    assert verify_one(PAY_BODY, [c.Signature(key=PUBLIC, sig=flipped)]) is None


def test_a_signature_over_other_bytes_does_not_verify() -> None:
    other = PAY_BODY.replace(b"17000", b"17001")
    assert verify_one(other, [c.Signature(key=PUBLIC, sig=PAY_SIG)]) is None


def test_a_signature_by_another_key_does_not_verify() -> None:
    other = nacl.signing.SigningKey(bytes(32))
    forged = other.sign(c.signing_message(PAY_BODY)).signature.hex()
    assert verify_one(PAY_BODY, [c.Signature(key=PUBLIC, sig=forged)]) is None
    # ...while it does verify under its own key.
    assert verify_one(PAY_BODY, [c.Signature(key=public_key_hex(other), sig=forged)]) == frozenset(
        {public_key_hex(other)}
    )


def test_a_signature_without_the_prefix_does_not_verify() -> None:
    bare = KEY.sign(PAY_BODY).signature.hex()
    assert verify_one(PAY_BODY, [c.Signature(key=PUBLIC, sig=bare)]) is None


@pytest.mark.parametrize(
    "key",
    ["00" * 32, "ff" * 32, "zz" * 32, "00" * 31, ""],
    ids=["zero", "ff", "not-hex", "short", "empty"],
)
def test_a_malformed_key_does_not_verify(key: str) -> None:
    assert verify_one(PAY_BODY, [c.Signature(key=key, sig=PAY_SIG)]) is None


def test_a_malformed_signature_does_not_verify() -> None:
    assert verify_one(PAY_BODY, [c.Signature(key=PUBLIC, sig="zz" * 64)]) is None
    assert verify_one(PAY_BODY, [c.Signature(key=PUBLIC, sig=PAY_SIG[:-2])]) is None


def test_one_bad_signature_among_good_ones_fails_the_command() -> None:
    other = nacl.signing.SigningKey(bytes(32))
    envelope, _ = c.decode_envelope(sign_command(PAY, [KEY, other]))
    assert verify_one(PAY_BODY, envelope.sigs) == frozenset({PUBLIC, public_key_hex(other)})
    bad = [envelope.sigs[0], c.Signature(key=envelope.sigs[1].key, sig=PAY_SIG)]
    assert verify_one(PAY_BODY, bad) is None


def test_the_same_key_signing_twice_counts_once() -> None:
    envelope, _ = c.decode_envelope(sign_command(PAY, [KEY, KEY]))
    assert len(envelope.sigs) == 2
    assert verify_one(PAY_BODY, envelope.sigs) == frozenset({PUBLIC})


KEYS = [nacl.signing.SigningKey(bytes([n]) * 32) for n in (7, 8)]
HEX = [public_key_hex(k) for k in KEYS]
ID = "a" * 32
ALL_COMMANDS: list[c.Command] = [
    c.CreateCity(
        id=ID,
        city="gimpo",
        name="김포시",
        currency="KRW",
        operator_key=HEX[0],
        officials=[c.Official(key=HEX[1], role="maker")],
        approvals={"define_program": 2},
        default_valid_days=1825,
    ),
    c.AppointOfficial(id=ID, city="gimpo", key=HEX[1], role="checker", active=True),
    c.SetWitnesses(
        id=ID, city="gimpo", witnesses=[c.Witness(name="uni/gimpo", key=HEX[0])], quorum=1
    ),
    c.RegisterMerchant(
        id=ID,
        city="gimpo",
        merchant="m-00042",
        keys=HEX,
        category="bakery",
        area="gurae",
        annual_revenue=100_000_000,
        registration_hash="ab" * 32,
    ),
    c.ApproveMerchant(id=ID, city="gimpo", merchant="m-00042"),
    c.SuspendMerchant(id=ID, city="gimpo", merchant="m-00042", reason="audit-2026-7"),
    OPEN,
    DEFINE,
    c.Mint(id=ID, city="gimpo", program="youth", amount=1, won_ref="trust-1"),
    c.Credit(id=ID, city="gimpo", program="youth", wallet="w-0000001", amount=5, origin="grant"),
    PAY,
    c.Refund(id=ID, city="gimpo", merchant="m-00042", payment=PAY.id, amount=1),
    c.Transfer(id=ID, city="gimpo", wallet="w-0000001", to="w-0000002", amount=1, evidence=""),
    c.Credit(
        id=ID,
        city="gimpo",
        program="youth",
        wallet="w-0000001",
        amount=5,
        origin="grant",
        evidence="cd" * 32,
    ),
    c.ApproveBatch(
        id=ID,
        city="gimpo",
        batch="youth-2026q4",
        program="youth",
        rows=2,
        total=500_000,
        root="ef" * 32,
    ),
    c.BatchCredit(
        id=ID,
        city="gimpo",
        batch="youth-2026q4",
        row=1,
        wallet="w-0000001",
        amount=250_000,
        evidence="",
        proof=["01" * 32],
    ),
    c.OrderPurchase(id=ID, city="gimpo", wallet="w-0000001", program="general", amount=100_000),
    c.ConfirmPurchase(
        id=ID, city="gimpo", wallet="w-0000001", order=ID, amount=100_000, deposit_ref="va-1"
    ),
    c.LapseOrder(id=ID, city="gimpo", wallet="w-0000001", order=ID),
    c.CancelPurchase(id=ID, city="gimpo", wallet="w-0000001", purchase=ID),
    c.RefundBalance(id=ID, city="gimpo", wallet="w-0000001", purchase=ID),
    c.Cashback(id=ID, city="gimpo", wallet="w-0000001", program="general", month=24_322),
    c.BindCard(id=ID, city="gimpo", wallet="w-0000001", card="ab" * 32, key=PUBLIC, active=True),
    c.Hold(
        id=ID,
        city="gimpo",
        wallet="w-0000001",
        merchant="m-00042",
        amount=12_000,
        card="ab" * 32,
        terminal="T0000001",
        stan="000123",
        rrn="633512000123",
        capture=True,
    ),
    c.Hold(
        id=ID,
        city="gimpo",
        wallet="w-0000001",
        merchant="m-00042",
        amount=12_000,
        intent="0f" * 16,
        order="ORDER-2026-1201-7",
    ),
    c.Capture(id=ID, city="gimpo", hold=ID, wallet="w-0000001", merchant="m-00042", amount=9_000),
    c.Release(id=ID, city="gimpo", hold=ID, wallet="w-0000001", merchant="m-00042"),
    c.PresentCode(id=ID, city="gimpo", wallet="w-0000001", code="cd" * 32, cap=50_000),
    c.ClaimCode(
        id=ID, city="gimpo", code="cd" * 32, wallet="w-0000001", merchant="m-00042", amount=8_000
    ),
    c.Expire(id=ID, city="gimpo", wallet="w-0000001"),
    c.Redeem(id=ID, city="gimpo", merchant="m-00042", amount=1, payout_ref="bank-7"),
    c.SetPayoutAccount(id=ID, city="gimpo", merchant="m-00042", account="ac" * 32),
    c.Payout(id=ID, city="gimpo", merchant="m-00042", amount=120_000, account="ac" * 32),
    c.SettlePayout(id=ID, city="gimpo", payout=ID, bank_ref="MB-2027-0001", merchant="m-00042"),
    c.ReturnPayout(id=ID, city="gimpo", payout=ID, reason="AC04", wallet="w-0000001"),
    c.RotateOperator(id=ID, city="gimpo", old_key=PUBLIC, new_key="29" + "ac" * 31),
]


def test_a_card_hold_omits_the_checkout_fields_and_a_checkout_hold_the_card_fields() -> None:
    card, checkout = (cmd for cmd in ALL_COMMANDS if isinstance(cmd, c.Hold))
    card_body, checkout_body = c.encode_canonical(card), c.encode_canonical(checkout)
    assert b'"intent"' not in card_body and b'"order"' not in card_body
    assert b'"card"' not in checkout_body and b'"capture"' not in checkout_body
    assert b'"capture":true' in card_body


def test_every_command_type_is_covered_by_the_round_trip() -> None:
    assert {type(cmd) for cmd in ALL_COMMANDS} == set(c.Command.__args__)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=c.command_type)
def test_sign_command_round_trips(command: c.Command) -> None:
    data = sign_command(command, KEYS)
    envelope, decoded = c.decode_envelope(data)
    assert decoded == command
    assert bytes(envelope.body) == c.encode_canonical(command)
    assert verify_one(bytes(envelope.body), envelope.sigs) == frozenset(HEX)
    assert c.encode_canonical(envelope) == data


# -- transaction leaves and block headers ---------------------------------------------------

PAY_RESULT = Result(code="ok", lots=[("00112233445566778899aabbccddeeff", 17000)], balance=33000)
# As recorded: a balance is never part of the leaf (Result.recorded; transparency.md).
PAY_RESULT_BYTES = b'{"code":"ok","lots":[["00112233445566778899aabbccddeeff",17000]]}'
PAY_LEAF_HASH = "ef32b20cb7dceaf023ffecbd8829df8202dfce9c56e3aef5e2191c1d392d0350"
HEADER = BlockHeader(
    city="gimpo",
    height=1,
    prev="ab" * 32,
    time_ms=1_780_016_400_000,
    tx_count=1,
    tx_root=PAY_LEAF_HASH,
    log_size=2,
    log_root="cd" * 32,
)
HEADER_BYTES = (
    b'{"city":"gimpo","height":1,"log_root":"'
    + b"cd" * 32
    + b'","log_size":2,"prev":"'
    + b"ab" * 32
    + b'","time_ms":1780016400000,"tx_count":1,"tx_root":"'
    + PAY_LEAF_HASH.encode()
    + b'"}'
)
HEADER_HASH = "99329dc76ac9cb165c6118caa93aa7c54ab0269b63c3f2d24ba152b587af3b4e"


def test_a_result_is_canonical_with_absent_members_omitted() -> None:
    assert encode_result(PAY_RESULT.recorded()) == PAY_RESULT_BYTES
    assert encode_result(Result(code="insufficient_funds")) == b'{"code":"insufficient_funds"}'


def test_the_leaf_is_result_then_envelope_and_hashes_per_rfc_6962() -> None:
    leaf = leaf_bytes(PAY_ENVELOPE, PAY_RESULT_BYTES)
    assert leaf == b'{"result":' + PAY_RESULT_BYTES + b',"tx":' + PAY_ENVELOPE + b"}"
    assert hashlib.sha256(b"\x00" + leaf).hexdigest() == PAY_LEAF_HASH
    assert merkle.leaf_hash(leaf).hex() == PAY_LEAF_HASH
    # One leaf: the root is the leaf hash; two: SHA-256(0x01 || left || right).
    one = bytes.fromhex(PAY_LEAF_HASH)
    assert merkle.root([one]) == one
    assert merkle.root([one, one]) == hashlib.sha256(b"\x01" + one + one).digest()


def test_the_block_header_encoding_and_hash_are_pinned() -> None:
    assert encode_header(HEADER) == HEADER_BYTES
    assert hashlib.sha256(b"localpay/block/v1\n" + HEADER_BYTES).hexdigest() == HEADER_HASH
    assert header_hash(HEADER_BYTES).hex() == HEADER_HASH


def test_the_operator_signs_the_block_hash_itself() -> None:
    signature = KEY.sign(bytes.fromhex(HEADER_HASH)).signature.hex()
    assert signature == (
        "fc728cf6712e709497d0738458c2543225d76feaa511b2284668e381709586a5"
        "cfca7257d6b49cfc9040dcace0894142f9d0170f9d2b47a2595df7d748446a0d"
    )


def test_the_checkpoint_origin_names_the_city_and_its_whole_genesis_hash() -> None:
    genesis_hash = bytes(range(32))
    assert origin("gimpo", genesis_hash) == "localpay.city/gimpo/" + genesis_hash.hex()


def test_docs_encoding_md_shows_the_same_bytes() -> None:
    doc = (Path(__file__).parents[3] / "docs" / "encoding.md").read_text(encoding="utf-8")
    for pinned in (PAY_BODY, PAY_ENVELOPE, OPEN_BODY, DEFINE_BODY, PAY_RESULT_BYTES):
        assert pinned.decode() in doc
    for pinned_hex in (PUBLIC, PAY_SIG, OPEN_SIG, DEFINE_SIG, PAY_LEAF_HASH, HEADER_HASH):
        assert pinned_hex in doc

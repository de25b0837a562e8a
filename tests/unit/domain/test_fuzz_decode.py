"""decode_envelope is the trust boundary: whatever arrives, it answers with DecodeError or a
command, never another exception. And anything it accepts that differs from what was
signed must fail its signature.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import nacl.signing
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localpay.domain import commands as c
from localpay.domain.limits import AMOUNT_MAX, VALID_DAYS_MAX
from localpay.domain.policy import Policy
from localpay.ledger.signatures import sign_command, verify_one

KEY = nacl.signing.SigningKey(bytes(range(32)))
PAY = c.Pay(
    id="0123456789abcdef0123456789abcdef",
    city="gimpo",
    wallet="w-0000001",
    merchant="m-00042",
    amount=17000,
    evidence="",
)
DEFINE = c.DefineProgram(
    id="fedcba9876543210fedcba9876543210",
    city="gimpo",
    program="youth",
    policy=Policy(
        name="청년기본소득",
        allowed_categories=[],
        denied_categories=["department_store"],
        areas=["gurae"],
        revenue_cap=3_000_000_000,
        valid_until="2026-12-31",
        valid_days=90,
        per_payment_cap=0,
        daily_cap=0,
        monthly_cap=500_000,
        holding_cap=1_500_000,
        transferable=False,
        refundable=False,
    ),
)
ENVELOPES = [sign_command(PAY, [KEY]), sign_command(DEFINE, [KEY])]


def decode_or_refuse(data: bytes) -> tuple[c.Envelope, c.Command] | None:
    """None if refused with DecodeError; any other exception fails the test."""
    try:
        return c.decode_envelope(data)
    except c.DecodeError as error:
        assert error.code in {"malformed", "not_canonical"}
        assert str(error)
        return None


def check_accepted_only_if_signed(data: bytes) -> None:
    decoded = decode_or_refuse(data)
    if decoded is None:
        return
    envelope, command = decoded
    body = bytes(envelope.body)
    assert c.encode_canonical(command) == body
    if body not in {bytes(c.decode_envelope(e)[0].body) for e in ENVELOPES}:
        assert verify_one(body, envelope.sigs) is None


# -- arbitrary bytes -----------------------------------------------------------------------


@given(st.binary(max_size=2048))
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    decode_or_refuse(data)


@given(st.text(max_size=512))
def test_arbitrary_text_raises_only_decode_error(text: str) -> None:
    decode_or_refuse(text.encode("utf-8", "surrogatepass"))


# -- byte-level edits of a valid envelope --------------------------------------------------


@given(
    st.sampled_from(ENVELOPES),
    st.lists(st.tuples(st.floats(0, 1), st.integers(0, 4), st.binary(max_size=6)), max_size=4),
)
def test_spliced_envelopes_are_refused_or_fail_their_signature(
    envelope: bytes, edits: list[tuple[float, int, bytes]]
) -> None:
    data = envelope
    for where, cut, insert in edits:
        at = int(where * len(data))
        data = data[:at] + insert + data[at + cut :]
    check_accepted_only_if_signed(data)


# -- structural mutations of a valid envelope ----------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["", "pay", "gimpo", "0" * 32, "a" * 64, "2026-12-31", "청년"])
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location in a JSON tree, the root included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def mutate(tree: Any, path: tuple[Any, ...], action: str, value: Any, name: str) -> Any:
    if not path:
        return value if action == "replace" else tree
    parent = tree
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "replace":
        parent[last] = value
    elif action == "delete":
        del parent[last]
    elif isinstance(parent, dict):
        parent[name] = value
    else:
        parent.insert(last, value)
    return tree


def serialise(tree: Any, sort: bool, compact: bool, ascii_only: bool) -> bytes:
    separators = (",", ":") if compact else (", ", ": ")
    text = json.dumps(tree, sort_keys=sort, separators=separators, ensure_ascii=ascii_only)
    return text.encode("utf-8", "surrogatepass")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.data(),
    st.sampled_from(ENVELOPES),
    st.sampled_from(["replace", "delete", "add"]),
    JSON_VALUES,
    st.text(max_size=12),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_json_mutations_are_refused_or_fail_their_signature(
    data: st.DataObject,
    envelope: bytes,
    action: str,
    value: Any,
    name: str,
    sort: bool,
    compact: bool,
    ascii_only: bool,
) -> None:
    tree = json.loads(envelope)
    path = data.draw(st.sampled_from(paths(tree)))
    mutated = mutate(tree, path, action, value, name)
    check_accepted_only_if_signed(serialise(mutated, sort, compact, ascii_only))


@given(st.sampled_from(ENVELOPES), st.booleans(), st.booleans())
def test_re_serialising_unchanged_is_accepted_only_in_canonical_form(
    envelope: bytes, compact: bool, ascii_only: bool
) -> None:
    data = serialise(json.loads(envelope), sort=True, compact=compact, ascii_only=ascii_only)
    canonical = compact and not (ascii_only and envelope == ENVELOPES[1])
    assert (decode_or_refuse(data) is not None) == canonical


# -- nesting -------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [10, 100, 500])
def test_moderately_nested_bodies_are_malformed(depth: int) -> None:
    sig = b'{"key":"' + b"0" * 64 + b'","sig":"' + b"0" * 128 + b'"}'
    data = b'{"body":' + b"[" * depth + b"]" * depth + b',"sigs":[' + sig + b"]}"
    assert decode_or_refuse(data) is None


def test_a_deeply_nested_body_is_malformed_not_a_crash() -> None:
    sig = b'{"key":"' + b"0" * 64 + b'","sig":"' + b"0" * 128 + b'"}'
    data = b'{"body":' + b"[" * 3000 + b"]" * 3000 + b',"sigs":[' + sig + b"]}"
    assert len(data) <= c.COMMAND_BYTES_MAX
    assert decode_or_refuse(data) is None


# -- integers are bounded when decoded -----------------------------------------------------

HUGE = st.one_of(st.integers(), st.integers(min_value=2**53, max_value=2**200), st.just(2**64))


@given(HUGE)
def test_an_amount_decodes_only_within_one_won_to_the_amount_limit(amount: int) -> None:
    data = sign_command(msgspec.structs.replace(PAY, amount=amount), [KEY])
    decoded = decode_or_refuse(data)
    assert (decoded is not None) == (1 <= amount <= AMOUNT_MAX)


@given(HUGE, st.sampled_from(["valid_days", "daily_cap", "holding_cap", "revenue_cap"]))
def test_a_policy_number_decodes_only_within_its_range(value: int, field: str) -> None:
    limit = VALID_DAYS_MAX if field == "valid_days" else AMOUNT_MAX
    policy = msgspec.structs.replace(DEFINE.policy, **{field: value, "monthly_cap": 0})
    data = sign_command(msgspec.structs.replace(DEFINE, policy=policy), [KEY])
    assert (decode_or_refuse(data) is not None) == (0 <= value <= limit)

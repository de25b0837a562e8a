"""The genesis field `refund_window_days`: omitted at its default (365), so a genesis
made before the field existed is still canonical and decodes to the default window; any
other window is encoded; out of range it is refused at decode (malformed) and, for a
command built in code, by the ledger (invalid_policy)."""

from __future__ import annotations

import msgspec
import nacl.signing
import pytest

from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.domain.limits import REFUND_WINDOW_DAYS_MAX
from localpay.ledger import machine
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.ledger.state import CityState

KEY = nacl.signing.SigningKey(bytes(range(32)))
PUBLIC = public_key_hex(KEY)
GENESIS = c.CreateCity(
    id="b" * 32,
    city="gimpo",
    name="김포시",
    currency="KRW",
    operator_key=PUBLIC,
    officials=[c.Official(key=PUBLIC, role="maker"), c.Official(key="ab" * 32, role="checker")],
    approvals={"mint": 2},
    default_valid_days=1825,
)


def test_a_genesis_of_before_the_field_stays_canonical_and_gets_the_default_window() -> None:
    body = c.encode_canonical(GENESIS)
    assert b"refund_window_days" not in body  # the very bytes an older genesis had
    _, decoded = c.decode_envelope(sign_command(GENESIS, [KEY]))
    assert isinstance(decoded, c.CreateCity)
    assert decoded.refund_window_days == c.DEFAULT_REFUND_WINDOW_DAYS == 365


def test_another_window_is_encoded_and_the_default_spelt_out_is_not_canonical() -> None:
    month = msgspec.structs.replace(GENESIS, refund_window_days=30)
    _, decoded = c.decode_envelope(sign_command(month, [KEY]))
    assert isinstance(decoded, c.CreateCity) and decoded.refund_window_days == 30
    spelt = c.encode_canonical(GENESIS)[:-1] + b',"refund_window_days":365}'
    envelope = b'{"body":' + spelt + b',"sigs":[{"key":"' + PUBLIC.encode() + b'","sig":"'
    envelope += b"0" * 128 + b'"}]}'
    with pytest.raises(c.DecodeError) as refused:
        c.decode_envelope(envelope)
    assert refused.value.code == "not_canonical"


@pytest.mark.parametrize("days", [0, REFUND_WINDOW_DAYS_MAX + 1])
def test_a_window_out_of_range_is_refused_at_decode_and_by_the_ledger(days: int) -> None:
    bad = msgspec.structs.replace(GENESIS, refund_window_days=days)
    with pytest.raises(c.DecodeError) as refused:
        c.decode_envelope(sign_command(bad, [KEY]))
    assert refused.value.code == "malformed" and "refund_window_days" in str(refused.value)
    state = CityState("gimpo")
    result, touched = machine.apply(state, bad, frozenset({PUBLIC}), 0)
    assert result.code == Code.INVALID_POLICY and touched == [] and state.genesis is None

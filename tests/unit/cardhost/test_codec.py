"""The card host's codec: ISO 8583 frames to CardRequest, field checks per message type,
the answers it encodes, and a fuzzed decoder that gives a request or a FormatError only."""

from __future__ import annotations

import iso8583
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localpay.entrypoints.cardhost import codec, terminal
from localpay.entrypoints.cardhost.server import masked
from localpay.services.payments.card.messages import CardAnswer, CardRequest

PAN = "9410001234567897"


def _purchase(**changes: str) -> dict[str, str]:
    fields = terminal.purchase(7, pan=PAN, amount=12_300, terminal="T0000001", acceptor="M" * 15)
    fields.update(changes)
    return fields


def test_a_purchase_decodes_to_its_request() -> None:
    request = codec.decode(terminal.encode(_purchase(**{"52": "0123456789abcdef"})))
    assert request.mti == "0100"
    assert request.stan == "000007"
    assert request.amount == 12_300
    assert request.pan == PAN
    assert request.terminal == "T0000001"
    assert request.rrn == "000000000007"
    assert request.currency == "410"
    assert request.pin_block == "0123456789ABCDEF"


@pytest.mark.parametrize("mti", ["0100", "0200"])
@pytest.mark.parametrize("missing", codec.REQUIRED["0100"])
def test_a_purchase_without_a_required_field_is_a_30_when_its_stan_is_readable(
    mti: str, missing: str
) -> None:
    fields = _purchase(t=mti)
    del fields[missing]
    with pytest.raises(codec.FormatError) as caught:
        codec.decode(terminal.encode(fields))
    assert caught.value.answerable is (missing != "11")
    if missing != "11":
        answer = terminal.decode(codec.encode_format_error(caught.value))
        assert answer["t"] == codec.RESPONSES[mti]
        assert answer["39"] == "30"
        assert answer["11"] == "000007"
        assert answer.get("41") == (None if missing == "41" else "T0000001")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("49", "840"),  # not won
        ("4", "00000000012A"),
        ("2", "94100012345"),  # 11 digits
        ("2", "94100012345678X"),
        ("7", "1301120000"),  # month 13
        ("12", "246000"),
        ("13", "0230"[:2] + "32"),
        ("52", "not-a-pin-block!"),
        ("41", "T00\x0100001"[:8]),
    ],
)
def test_a_malformed_field_is_a_30(field: str, value: str) -> None:
    with pytest.raises(codec.FormatError) as caught:
        codec.decode(terminal.encode(_purchase(**{field: value})))
    assert caught.value.answerable
    assert field in caught.value.reason


def test_a_reversal_needs_fewer_fields_and_keeps_38() -> None:
    fields = {
        k: v for k, v in _purchase(t="0400").items() if k in ("t", "2", "3", "4", "11", "37", "41")
    }
    fields["38"] = "A1B2C3"
    fields["90"] = "0100" + "000007" + "1201120000" + "0" * 22
    request = codec.decode(terminal.encode(fields))
    assert (request.mti, request.auth_code) == ("0400", "A1B2C3")
    fields["90"] = "X" * 42
    with pytest.raises(codec.FormatError, match="90"):
        codec.decode(terminal.encode(fields))


def test_an_echo_is_decoded_and_an_unknown_network_code_refused() -> None:
    assert codec.decode(terminal.encode(terminal.echo(3))).network_code == "301"
    with pytest.raises(codec.FormatError, match="70"):
        codec.decode(terminal.encode({**terminal.echo(3), "70": "161"}))


def test_an_unknown_message_type_cannot_be_answered() -> None:
    with pytest.raises(codec.FormatError) as caught:
        codec.decode(terminal.encode(_purchase(t="0110")))
    assert not caught.value.answerable


def test_the_answer_echoes_the_request_and_carries_38_39_and_54() -> None:
    request = codec.decode(terminal.encode(_purchase()))
    answer = terminal.decode(codec.encode_answer(request, CardAnswer("00", "654321", 87_700)))
    assert answer["t"] == "0110"
    for field in codec.ECHOED:
        assert answer[field] == _purchase()[field], field
    assert (answer["38"], answer["39"]) == ("654321", "00")
    assert answer["54"] == "0002410C000000087700"
    declined = terminal.decode(codec.encode_answer(request, CardAnswer("51", "654321", 500)))
    assert "38" not in declined  # no approval code on a decline
    assert declined["54"] == "0002410C000000000500"
    assert "54" not in terminal.decode(codec.encode_answer(request, CardAnswer("14")))


def test_the_card_number_is_masked_in_logs() -> None:
    assert masked(PAN) == "941000******7897"
    assert PAN not in masked(PAN)


# -- fuzzing ---------------------------------------------------------------------------------------


def _decodes_or_format_error(data: bytes) -> None:
    try:
        result = codec.decode(data)
    except codec.FormatError as exc:
        if exc.answerable:  # an answerable error must encode
            codec.encode_format_error(exc)
        return
    assert isinstance(result, CardRequest)


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_decode_or_fail_as_a_format_error(data: bytes) -> None:
    _decodes_or_format_error(data)


VALID = [
    terminal.encode(_purchase()),
    terminal.encode(_purchase(t="0200", **{"52": "0123456789ABCDEF"})),
    terminal.encode(terminal.echo(9)),
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid message cut, spliced, or with bytes flipped, inserted or deleted."""
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        how = draw(st.sampled_from(["flip", "insert", "delete", "cut", "digit"]))
        if how == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif how == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif how == "cut":
            data = data[:at]
        elif data:
            data[at] = ord(draw(st.sampled_from("0123456789ABCDEF")))
    return bytes(data)


@settings(max_examples=5000, deadline=None)
@given(mutated())
def test_mutations_of_valid_messages_decode_or_fail_as_a_format_error(data: bytes) -> None:
    _decodes_or_format_error(data)


def test_pyiso8583_itself_raises_on_what_we_turn_into_a_format_error() -> None:
    """The fuzz tests above would pass vacuously if nothing ever failed; this shows the
    decoder does meet errors and maps them (truncation)."""
    with pytest.raises(iso8583.DecodeError):
        iso8583.decode(bytearray(VALID[0][:30]), codec.SPEC)
    with pytest.raises(codec.FormatError):
        codec.decode(VALID[0][:30])

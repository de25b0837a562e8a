"""The EMVCo MPM codec against published payloads, each of the parser's faults with its reason,
a round trip, and a fuzz: any text gives a dict or EmvError, never another exception."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localpay.services.payments.qr import emvco
from localpay.services.payments.qr.emvco import EmvError, crc16, encode, parse

# The EMVCo QR Code Specification for Payment Systems, Merchant-Presented Mode v1.1, its
# example payload (CRC A13A), as reproduced in mvallim/emv-qrcode's CRCTest.java and in the
# exemvi and emvqr test suites. Note its order: 64 and 54 before 53; only 00 first, 63 last.
EMVCO_SPEC_EXAMPLE = (
    "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678"
    "520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京"
    "540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233"
    "449988770708123456786304A13A"
)
# Banco Central do Brasil, Manual do BR Code (Pix), its static example (CRC 1D3D; no 01) and
# its dynamic example (CRC 64E4), as quoted by brazilian-utils and other Pix libraries.
BCB_STATIC_EXAMPLE = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000"
    "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
)
BCB_DYNAMIC_EXAMPLE = (
    "00020101021226700014br.gov.bcb.pix2548pix.example.com/8b3da2f39a4140d1a91abd93113bd441"
    "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***630464E4"
)


def test_crc_is_ccitt_false() -> None:
    # The catalogue check value of CRC-16/CCITT-FALSE (reveng: check=0x29b1).
    assert crc16(b"123456789") == "29B1"
    assert crc16(EMVCO_SPEC_EXAMPLE[:-4].encode()) == "A13A"


def test_spec_example_parses() -> None:
    fields = parse(EMVCO_SPEC_EXAMPLE)
    assert fields["01"] == "12"
    assert fields["29"] == {"00": "D15600000000", "05": "A93FO3230Q"}
    assert fields["64"] == {"00": "ZH", "01": "最佳运输", "02": "北京"}
    assert fields["54"] == "23.72"
    assert fields["62"] == {"03": "1234", "06": "***", "07": "A6008667", "09": "ME"}
    assert fields["91"] == {"00": "A011223344998877", "07": "12345678"}
    assert fields["63"] == "A13A"


@pytest.mark.parametrize("payload", [BCB_STATIC_EXAMPLE, BCB_DYNAMIC_EXAMPLE])
def test_central_bank_examples_parse(payload: str) -> None:
    fields = parse(payload)
    assert fields["59"] == "Fulano de Tal"
    assert isinstance(fields["26"], dict)
    assert fields["26"]["00"] == "br.gov.bcb.pix"


def _spec_elements() -> list[tuple[str, emvco.Value]]:
    """The spec example as elements, in its own order."""
    return [
        ("00", "01"),
        ("01", "12"),
        ("29", [("00", "D15600000000"), ("05", "A93FO3230Q")]),
        ("31", [("00", "D15600000001"), ("03", "12345678")]),
        ("52", "4111"),
        ("58", "CN"),
        ("59", "BEST TRANSPORT"),
        ("60", "BEIJING"),
        ("64", [("00", "ZH"), ("01", "最佳运输"), ("02", "北京")]),
        ("54", "23.72"),
        ("53", "156"),
        ("55", "01"),
        ("62", [("03", "1234"), ("06", "***"), ("07", "A6008667"), ("09", "ME")]),
        ("91", [("00", "A011223344998877"), ("07", "12345678")]),
    ]


def test_encode_reproduces_the_spec_example() -> None:
    assert encode(_spec_elements()) == EMVCO_SPEC_EXAMPLE


def _korean(**change: emvco.Value) -> list[tuple[str, emvco.Value]]:
    base: dict[str, emvco.Value] = {
        "00": "01",
        "01": "11",
        "26": [("00", "kr.localpay"), ("01", "seoul"), ("02", "m-1")],
        "52": "5499",
        "53": "410",
        "58": "KR",
        "59": "Hanbit Bakery",
        "60": "Seoul",
        "64": [("00", "KO"), ("01", "한빛 빵집"), ("02", "서울")],
    }
    base.update(change)
    return list(base.items())


def test_lengths_count_characters_not_bytes() -> None:
    payload = encode(_korean())
    assert "0105한빛 빵집0202서울" in payload  # 5 and 2 characters (15 and 6 bytes)
    assert parse(payload)["64"] == {"00": "KO", "01": "한빛 빵집", "02": "서울"}


def test_a_no_break_space_is_a_printable_name() -> None:
    payload = encode(_korean(**{"64": [("00", "KO"), ("01", "한빛\u00a0빵집")]}))
    assert parse(payload)["64"] == {"00": "KO", "01": "한빛\u00a0빵집"}


def test_won_amount_round_trip() -> None:
    payload = encode([*_korean(), ("54", "12000")])
    assert parse(payload)["54"] == "12000"


def _with_crc(body: str) -> str:
    """A payload whose CRC is right, so that the fault under test is the only one."""
    body += "6304"
    return body + crc16(body.encode())


GOOD = encode(_korean())
GOOD_BODY = GOOD[:-8]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (GOOD[:-4] + "0000", f"CRC mismatch: {GOOD[-4:]} expected, 0000 found"),
        (GOOD[:-4] + GOOD[-4:].lower(), "is not four uppercase hex digits"),
        (GOOD_BODY, "63 (CRC) must come last"),
        (_with_crc(GOOD_BODY[6:] + "000201"), "00 (payload format indicator) must come first"),
        (_with_crc("000202" + GOOD_BODY[6:]), '00 (payload format indicator) must be "01"'),
        (_with_crc(GOOD_BODY.replace("010211", "010213")), "01 (point of initiation)"),
        ("00020152", "truncated data object"),
        (_with_crc(GOOD_BODY + "5299x"), "runs past the end"),
        (_with_crc(GOOD_BODY + "5200"), "length 00 is out of range"),
        (_with_crc(GOOD_BODY + "5x01a"), "is not two digits"),
        (_with_crc(GOOD_BODY + "520A"), "length '0A' is not two digits"),
        (_with_crc(GOOD_BODY + "52045411"), "52 appears twice"),
        (_with_crc(GOOD_BODY.replace("52045499", "5204549X")), "52 (merchant category code)"),
        (_with_crc(GOOD_BODY.replace("5303410", "530341A")), "53 (currency) must be 3 digits"),
        (_with_crc(GOOD_BODY + "540812000.00"), "won have no decimals"),
        (_with_crc(GOOD_BODY + "540501200"), "54 (amount) must be a decimal number"),
        (_with_crc(GOOD_BODY + "54010"), "won have no decimals"),
        (_with_crc(GOOD_BODY.replace("5802KR", "5802kr")), "58 (country)"),
        (_with_crc(GOOD_BODY + "6104한빛빵집"), "is not printable ASCII"),
        (_with_crc(GOOD_BODY + "6205" + "0101\x07"), "62/01: character '\\x07' is not printable"),
    ],
)
def test_parser_faults_name_their_reason(payload: str, reason: str) -> None:
    with pytest.raises(EmvError) as caught:
        parse(payload)
    assert reason in caught.value.reason
    assert 0 <= caught.value.position <= len(payload)


def _replace_element(tag: str, value: str) -> str:
    """GOOD's body with element `tag` replaced by `value` (length recomputed), CRC right."""
    fields = emvco.split(GOOD_BODY, 0)
    out = ""
    for t, _, v in fields:
        out += f"{t}{len(value) if t == tag else len(v):02d}{value if t == tag else v}"
    return _with_crc(out)


@pytest.mark.parametrize(
    ("tag", "value", "reason"),
    [
        ("59", "A" * 26, "59: longer than 25 characters"),
        ("60", "B" * 16, "60: longer than 15 characters"),
        ("26", "0101x", "26: template without 00"),
        ("26", "00" + "33" + "x" * 33, "26/00: identifier longer than 32"),
        ("64", "00021K0102빵집", "64: 00 (language) must be two letters"),
        ("64", "0002KO", "64: 01 (merchant name in that language) is missing"),
        ("64", "0002KO0126" + "가" * 26, "64/01: merchant name longer than 25"),
        ("64", "0002KO0102빵집0216" + "가" * 16, "64/02: merchant city longer than 15"),
        ("64", "0002KO0103빵\n집", "64/01: control characters"),
        ("64", "0002KO0103빵\u2028집", "64/01: control characters"),
        ("64", "0002KO0103빵\u200b집", "64/01: control characters"),
        ("64", "0002KO0103빵집", "01: length 3 runs past the end"),
        ("64", "0002KO0102빵집0102빵집", "01 appears twice"),
        ("26", "0003abc0202m\u00e9", "26/02: character 'é' is not printable ASCII"),
    ],
)
def test_element_faults_name_their_reason(tag: str, value: str, reason: str) -> None:
    with pytest.raises(EmvError) as caught:
        parse(_replace_element(tag, value))
    assert reason in caught.value.reason


def test_missing_mandatory_fields() -> None:
    for tag in ("52", "53", "58", "59", "60"):
        body = "".join(f"{t}{len(v):02d}{v}" for t, _, v in emvco.split(GOOD_BODY, 0) if t != tag)
        with pytest.raises(EmvError, match="is missing"):
            parse(_with_crc(body))
    no_account = "".join(
        f"{t}{len(v):02d}{v}" for t, _, v in emvco.split(GOOD_BODY, 0) if t != "26"
    )
    with pytest.raises(EmvError, match="no merchant account information"):
        parse(_with_crc(no_account))


def test_tip_fields_need_their_indicator() -> None:
    with pytest.raises(EmvError, match='needs 55 = "02"'):
        parse(_with_crc(GOOD_BODY + "550201" + "5603500"))
    with pytest.raises(EmvError, match='needs 55 = "03"'):
        parse(_with_crc(GOOD_BODY + "550202" + "57013"))
    assert parse(_with_crc(GOOD_BODY + "550202" + "5603500"))["56"] == "500"


def test_error_position_points_at_the_fault() -> None:
    payload = _with_crc(GOOD_BODY + "52045411")
    with pytest.raises(EmvError) as caught:
        parse(payload)
    assert payload[caught.value.position :].startswith("52045411")


def test_too_long_and_not_text() -> None:
    with pytest.raises(EmvError, match="more than 512"):
        parse("0" * 513)
    with pytest.raises(EmvError, match="not text"):
        parse(b"000201")  # type: ignore[arg-type]
    with pytest.raises(EmvError, match="must come first"):
        parse("")


@pytest.mark.parametrize(
    ("elements", "reason"),
    [
        ([("01", "11")], "00 (payload format indicator) must come first"),
        ([], "must come first"),
        ([*_korean(), ("63", "ABCD")], "63 (CRC) is added by encode"),
        ([*_korean(), ("5", "x")], "is not two digits"),
        ([*_korean(), ("61", "")], "length 0 is out of range"),
        ([*_korean(), ("61", "x" * 100)], "length 100 is out of range"),
        ([*_korean(), ("62", "0503***")], "62 is a template: give its sub-elements"),
        ([*_korean(), ("61", [("01", "x")])], "61 is not a template"),
        ([*_korean(), ("54", "12000.00")], "won have no decimals"),
        (_korean(**{"59": "한빛 빵집"}), "is not printable ASCII"),
        (_korean(**{"60": "Seoul Special City"}), "60: longer than 15"),
    ],
)
def test_encode_refuses_what_breaks_the_spec(
    elements: list[tuple[str, emvco.Value]], reason: str
) -> None:
    with pytest.raises(EmvError) as caught:
        encode(elements)
    assert reason in caught.value.reason


def test_encode_refuses_nested_templates() -> None:
    nested = [("00", [("01", "x")])]
    with pytest.raises(EmvError, match="templates do not nest"):
        encode([*_korean(), ("62", nested)])  # type: ignore[list-item]


def test_a_lone_surrogate_is_refused_not_a_crash() -> None:
    at = GOOD.index("한")
    with pytest.raises(EmvError, match="not valid Unicode text") as caught:
        parse(GOOD[:at] + "\ud800" + GOOD[at + 1 :])
    assert caught.value.position == at


# --- fuzz ---------------------------------------------------------------------------------

_ALPHABET = st.sampled_from("0123456789ABCDEFabc *.-가\n\x00é")


@settings(max_examples=1500, deadline=None)
@given(st.text(st.characters(exclude_categories=[]), max_size=600))  # surrogates too
def test_fuzz_any_text_gives_dict_or_emv_error(text: str) -> None:
    _parse_or_error(text)


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=200))
def test_fuzz_tlv_like_text_with_a_right_crc(text: str) -> None:
    # A right CRC takes the fuzz past the first check into the structure and value checks.
    _parse_or_error("000201" + text)
    _parse_or_error(_with_crc("000201" + text))


@settings(max_examples=1000, deadline=None)
@given(st.integers(0, len(GOOD) - 1), st.characters())
def test_fuzz_one_changed_character_is_refused(at: int, ch: str) -> None:
    changed = GOOD[:at] + ch + GOOD[at + 1 :]
    if changed == GOOD:
        return
    with pytest.raises(EmvError):
        parse(changed)


_NAME = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=25)


@settings(max_examples=500, deadline=None)
@given(
    _NAME,
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=15),
    st.text(st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), min_size=1, max_size=25),
    st.integers(1, 10**12),
)
def test_round_trip(name: str, city: str, korean: str, amount: int) -> None:
    elements = _korean(**{"59": name, "60": city, "01": "12"})
    elements[-1] = ("64", [("00", "KO"), ("01", korean)])
    payload = encode([*elements, ("54", str(amount))])
    fields = parse(payload)
    assert fields["59"] == name
    assert fields["60"] == city
    assert fields["64"] == {"00": "KO", "01": korean}
    assert fields["54"] == str(amount)


def _parse_or_error(text: str) -> None:
    try:
        result = parse(text)
    except EmvError as e:
        assert 0 <= e.position <= len(text)
        assert e.reason
    else:
        assert isinstance(result, dict)

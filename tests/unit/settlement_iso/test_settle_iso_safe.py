"""Reading untrusted XML: every trick refused with XmlRefused, and nothing else escapes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localpay.adapters.iso20022 import camt053, pain002, safe, sniff
from localpay.services.settlement.ports import XmlRefused

CAMT = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">&lol4;</Document>
"""


def _external(url: str) -> bytes:
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE d [\n <!ENTITY x SYSTEM "' + url.encode() + b'">\n]>\n'
        b'<Document xmlns="' + CAMT.encode() + b'">&x;</Document>\n'
    )


def _refused(data: bytes) -> XmlRefused:
    with pytest.raises(XmlRefused) as caught:
        safe.parse(data)
    return caught.value


def test_settle_iso_a_doctype_is_refused_on_its_line():
    refused = _refused(b'<?xml version="1.0"?>\n\n<!DOCTYPE Document>\n<Document/>')
    assert "DOCTYPE" in refused.reason and refused.line == 3


def test_settle_iso_an_entity_bomb_is_refused_before_expansion():
    refused = _refused(BILLION_LAUGHS)
    assert refused.line == 2


@pytest.mark.parametrize("url", ["file:///etc/passwd", "http://127.0.0.1:9/evil.dtd"])
def test_settle_iso_an_external_entity_is_refused(url):
    refused = _refused(_external(url))
    assert "DOCTYPE" in refused.reason and "root:" not in str(refused)


def test_settle_iso_a_doctype_hidden_in_utf16_is_still_refused():
    # The byte screen cannot see "<!DOCTYPE" in UTF-16; the parser's own record does.
    data = '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE d>\n<Document/>'.encode("utf-16")
    assert b"<!DOCTYPE" not in data
    assert "DOCTYPE" in _refused(data).reason


def test_settle_iso_a_document_not_in_utf8_is_refused():
    data = '<?xml version="1.0" encoding="UTF-16"?>\n<Document/>'.encode("utf-16")
    assert "UTF-8" in _refused(data).reason


def test_settle_iso_xinclude_is_refused_not_followed():
    data = (
        b'<Document xmlns="' + CAMT.encode() + b'">\n'
        b'  <xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"'
        b' parse="text"/>\n</Document>'
    )
    refused = _refused(data)
    assert "XInclude" in refused.reason and refused.line == 2


def test_settle_iso_processing_instructions_are_dropped():
    root = safe.parse(b'<Document><?xml-stylesheet href="http://x/"?><A/></Document>')
    assert [child.tag for child in root] == ["A"]


def test_settle_iso_an_undeclared_entity_reference_is_refused():
    refused = _refused(b"<Document>\n<A>&nbsp;</A></Document>")
    assert refused.line == 2


def test_settle_iso_too_large_a_file_is_refused_unread():
    refused = _refused(b" " * (safe.MAX_BYTES + 1))
    assert "too large" in refused.reason


def test_settle_iso_too_deep_a_document_is_refused_with_the_line():
    depth = safe.MAX_DEPTH + 1
    data = b"<a>\n" * depth + b"</a>" * depth
    refused = _refused(data)
    assert "deeper" in refused.reason and refused.line == depth


def test_settle_iso_too_many_elements_are_refused(monkeypatch):
    monkeypatch.setattr(safe, "MAX_ELEMENTS", 10)
    assert safe.parse(b"<a>" + b"<b/>" * 9 + b"</a>") is not None
    assert "elements" in _refused(b"<a>" + b"<b/>" * 10 + b"</a>").reason


def test_settle_iso_bytes_only():
    with pytest.raises(XmlRefused, match="bytes"):
        safe.parse("<Document/>")  # type: ignore[arg-type]


def test_settle_iso_sniff_reads_the_message_type(iso):
    assert sniff(iso.camt()) == "camt.053.001.08"
    assert sniff(iso.pain002()) == "pain.002.001.10"
    with pytest.raises(XmlRefused):
        sniff(BILLION_LAUGHS)


# Fuzz: whatever arrives, a reader answers with its meaning or XmlRefused: never another
# exception (an IndexError, a ValueError from a date, an lxml error would be a bug).

READERS = [camt053.read, pain002.read, sniff]


def _read_all(data: bytes) -> None:
    for read in READERS:
        try:
            read(data)
        except XmlRefused as refused:
            assert type(refused) is XmlRefused and refused.reason
            assert isinstance(refused.line, int) and refused.line >= 0


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_settle_iso_fuzz_random_bytes_only_ever_refused(data):
    _read_all(data)


@st.composite
def _mutated(draw, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "cut", "insert", "digit"]))
        if kind == "flip":
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 40))]
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from([b"<", b"&", b"]]>", b"<!DOCTYPE x>", b".5", b"-"]))
        elif data[at : at + 1].isdigit():  # keep it valid XML, change the meaning
            data[at] = ord(draw(st.sampled_from("0123456789")))
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_settle_iso_fuzz_mutated_statements_and_reports_only_ever_refused(iso, data):
    base = data.draw(st.sampled_from([iso.camt(), iso.pain002()]))
    _read_all(data.draw(_mutated(base)))

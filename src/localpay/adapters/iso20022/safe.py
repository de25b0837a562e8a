"""Reading a bank's XML without trusting it, and checking it against the official XSD.

A statement comes from outside (a bank, or an operator's upload), so the parser is told
to fetch nothing, expand nothing and load no DTD, and then the document is refused
outright if it has a DOCTYPE at all: an ISO 20022 message never needs one, so any
DOCTYPE is an attack or a mistake (entity bombs, external entities, DTD tricks). Every
refusal is a `ports.XmlRefused` naming the line, so the operator can find it in the file.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from importlib import resources
from typing import Any, Final

from lxml import etree  # type: ignore[import-untyped]  # no stubs installed (types-lxml)

from localpay.services.settlement.ports import FileInvalid, XmlRefused

#: The largest file we read (a day's statement of a city's trust account is far smaller).
MAX_BYTES: Final = 20 * 1024 * 1024
#: Elements in one document: ~30 per statement entry, so room for ~30 000 entries.
MAX_ELEMENTS: Final = 1_000_000
#: Nesting depth: the deepest ISO 20022 path we read is ~12; 64 leaves room for any bank.
MAX_DEPTH: Final = 64
#: Where the XInclude elements live: a document using them is refused, never processed.
XINCLUDE_NS: Final = "http://www.w3.org/2001/XInclude"
#: ISO 20022 message namespaces: the prefix, then the message type ("camt.053.001.08").
ISO_NS: Final = "urn:iso:std:iso:20022:tech:xsd:"
#: Where the vendored XSDs are (package data: hatch ships every file under src/localpay).
XSD_PACKAGE: Final = "localpay.adapters.iso20022"

#: Korea Standard Time, the bank's clock when a time carries no offset.
KST: Final = dt.timezone(dt.timedelta(hours=9), "KST")

Element = Any  # lxml.etree._Element: lxml ships no type stubs


def _parser() -> Any:
    # A new parser per call: lxml parsers keep state and must not be shared by threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
        remove_comments=True,
    )


def _line_of(data: bytes, needle: bytes) -> int:
    return data.count(b"\n", 0, data.find(needle)) + 1


def _screen(data: bytes) -> None:
    """Refuse what needs no parsing to be refused: too big, or a DTD in plain sight."""
    if len(data) > MAX_BYTES:
        raise XmlRefused(f"파일이 너무 큽니다 (file too large: {len(data)} > {MAX_BYTES} bytes)")
    for needle in (b"<!DOCTYPE", b"<!ENTITY"):
        if needle in data:
            raise XmlRefused(
                f"DOCTYPE/ENTITY 선언은 받지 않습니다 ({needle.decode()} is refused)",
                _line_of(data, needle),
            )


def _walk(root: Element) -> None:
    """Refuse a tree that is too large or deep, or holds entities or XInclude."""
    count = 0
    stack: list[tuple[Element, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_ELEMENTS:
            raise XmlRefused(f"요소가 너무 많습니다 (more than {MAX_ELEMENTS} elements)")
        if depth > MAX_DEPTH:
            raise XmlRefused(f"너무 깊습니다 (nested deeper than {MAX_DEPTH})", node.sourceline)
        if isinstance(node, etree._Entity):
            raise XmlRefused("엔티티 참조는 받지 않습니다 (entity reference)", node.sourceline)
        if isinstance(node.tag, str) and node.tag.startswith("{" + XINCLUDE_NS + "}"):
            raise XmlRefused("XInclude는 받지 않습니다 (XInclude is refused)", node.sourceline)
        stack.extend((child, depth + 1) for child in node)


def parse(data: bytes) -> Element:
    """The root element of a safe, well-formed UTF-8 document, or XmlRefused."""
    if not isinstance(data, bytes):
        raise XmlRefused("XML은 바이트로 받습니다 (expected bytes)")
    _screen(data)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise XmlRefused(f"XML 형식 오류 (not well-formed): {exc.msg}", exc.lineno or 0) from None
    if root is None:  # recover mode is off, but lxml may still hand back nothing
        raise XmlRefused("빈 문서 (empty document)")
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise XmlRefused("DOCTYPE은 받지 않습니다 (DOCTYPE is refused)", 1)
    if (info.encoding or "UTF-8").upper() not in ("UTF-8", "UTF8"):
        raise XmlRefused(f"UTF-8만 받습니다 (encoding {info.encoding} is refused)", 1)
    _walk(root)
    return root


def message_type(root: Element) -> str:
    """The ISO 20022 message type a Document's namespace names, or XmlRefused."""
    qname = etree.QName(root)
    if qname.localname != "Document" or not (qname.namespace or "").startswith(ISO_NS):
        raise XmlRefused(
            f"ISO 20022 문서가 아닙니다 (not an ISO 20022 Document: {root.tag})", root.sourceline
        )
    return str(qname.namespace)[len(ISO_NS) :]


def expect(root: Element, kind: str) -> None:
    """Refuse a document that is not the message type the reader reads."""
    found = message_type(root)
    if found != kind:
        raise XmlRefused(f"다른 전문입니다 (expected {kind}, got {found})", root.sourceline or 1)


@functools.cache
def _schema(name: str) -> tuple[Any, threading.Lock]:
    # Our own vendored file, parsed once per process; the XSDs import nothing, so no
    # network is involved. The lock: a schema's error log is state of the object.
    text = resources.files(XSD_PACKAGE).joinpath("xsd", name).read_bytes()
    return etree.XMLSchema(etree.fromstring(text, _parser())), threading.Lock()


def schema_names() -> list[str]:
    """The vendored XSDs, by file name (pain.001.001.09.xsd, …)."""
    folder = resources.files(XSD_PACKAGE).joinpath("xsd")
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".xsd"))


def _first_error(schema: Any, root: Element) -> tuple[int, str] | None:
    if schema.validate(root):
        return None
    first = schema.error_log[0]
    return int(first.line or 0), str(first.message)


def validate(root: Element, xsd_name: str) -> None:
    """Validate against a vendored XSD; XmlRefused names the first error's line."""
    schema, lock = _schema(xsd_name)
    with lock:
        error = _first_error(schema, root)
    if error is not None:
        raise XmlRefused(f"XSD 검증 실패 ({xsd_name}): {error[1]}", error[0])


def validate_ours(data: bytes, xsd_name: str) -> None:
    """Read back and validate a file we built: failing is a bug of ours (FileInvalid)."""
    try:
        validate(parse(data), xsd_name)
    except XmlRefused as exc:
        raise FileInvalid(
            f"생성한 파일이 XSD를 통과하지 못했습니다 (our file fails): {exc}"
        ) from None


# Reading a validated document: short paths in the message's own namespace ("Rsn/Cd").


def _qualified(path: str) -> str:
    return "/".join(f"m:{step}" for step in path.split("/"))


def find(node: Element, path: str, ns: str) -> Element | None:
    return node.find(_qualified(path), {"m": ns})


def find_all(node: Element, path: str, ns: str) -> list[Element]:
    return list(node.iterfind(_qualified(path), {"m": ns}))


def text(node: Element, path: str, ns: str) -> str:
    """The stripped text at `path`, "" when absent (the XSD said what must be there)."""
    found = find(node, path, ns)
    return "" if found is None else (found.text or "").strip()


def line_of(node: Element) -> int:
    return int(node.sourceline or 0)


def date_of(value: str, node: Element) -> dt.date:
    """An xs:date or the date part of an xs:dateTime, as the bank wrote it.

    The XSD allows what Python does not (a year past 9999, a time zone on a date):
    such a value is refused with its line rather than guessed at."""
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise XmlRefused(
            f"날짜를 읽을 수 없습니다 (unreadable date {value!r})", line_of(node)
        ) from None


def datetime_of(value: str, node: Element) -> dt.datetime:
    """An xs:dateTime, aware: one without an offset is taken as the bank's KST."""
    try:
        found = dt.datetime.fromisoformat(value)
    except ValueError:
        raise XmlRefused(
            f"시각을 읽을 수 없습니다 (unreadable time {value!r})", line_of(node)
        ) from None
    return found if found.tzinfo is not None else found.replace(tzinfo=KST)

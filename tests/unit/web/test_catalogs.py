"""The pages' catalogs: every message of the templates and the web code is in them, and
Korean (the default language) has a translation for each; won and dates the Korean way."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from localpay.entrypoints.web import i18n

ROOT = Path(__file__).resolve().parents[3]
WEB = ROOT / "src/localpay/entrypoints/web"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "say": (2,)}


def _extracted() -> set[str]:
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"trim_blocks": "true", "lstrip_blocks": "true"}}
    found = set()
    for _, _, message, _, _ in extract_from_dir(str(WEB), method_map, options, keywords=KEYWORDS):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _catalog(lang: str) -> dict[str, str]:
    with (i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=lang)
    return {
        m.id if isinstance(m.id, str) else m.id[0]: m.string
        if isinstance(m.string, str)
        else m.string[0]
        for m in catalog
        if m.id and "fuzzy" not in m.flags
    }


def test_every_message_has_a_korean_translation() -> None:
    messages, korean = _extracted(), _catalog("ko")
    assert messages, "no messages found: the extraction itself is broken"
    missing = sorted(m for m in messages if not korean.get(m))
    assert not missing, f"run `make messages` and translate: {missing[:20]}"


def test_catalogs_hold_no_stale_messages() -> None:
    messages = _extracted()
    for lang in i18n.LANGUAGES:
        stale = sorted(set(_catalog(lang)) - messages)
        assert not stale, f"{lang}: messages no page uses (make messages drops them): {stale[:10]}"


def test_won_and_dates_the_korean_way() -> None:
    assert i18n.won(1_253_000, "ko") == "1,253,000원"
    assert i18n.won(1_253_000, "en") == "₩1,253,000"
    assert i18n.won(-500, "ko") == "-500원"
    assert i18n.date(dt.date(2026, 12, 1), "ko") == "2026년 12월 1일"
    assert i18n.date("2026-12-01", "en") == "1 December 2026"
    assert i18n.when(1_796_130_300_000, "ko") == "2026년 12월 1일 22:05"


def test_korean_is_the_default_and_english_a_choice() -> None:
    assert i18n.choose(None, "en-US,en;q=0.9") == "ko"
    assert i18n.choose("en", None) == "en"
    assert i18n.choose("fr", None) == "ko"
    assert i18n.translations("ko").gettext("My wallet") == "내 지갑"
    assert i18n.translations("en").gettext("My wallet") == "My wallet"

"""Languages: Korean by default, English on request; won and dates the Korean way.

Messages are gettext catalogs (`locale/<lang>/LC_MESSAGES/messages.po`, made with `make
messages`). The .po files are read and compiled in memory at start-up, so there is no
compiled .mo file in the repository to go stale.
"""

from __future__ import annotations

import datetime as dt
import io
from functools import cache
from pathlib import Path
from typing import Final

from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

LOCALE_DIR: Final = Path(__file__).parent / "locale"
#: The languages pages speak, the default first.
LANGUAGES: Final = ("ko", "en")
DEFAULT: Final = "ko"
KST: Final = dt.timezone(dt.timedelta(hours=9))


def N_(message: str) -> str:  # noqa: N802 (the gettext convention extractors know)
    """Mark `message` for the catalogs where it is made; it is translated where shown."""
    return message


@cache
def translations(lang: str) -> Translations:
    """The catalog of `lang` (one of LANGUAGES), compiled once per process."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        catalog = read_po(f, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(fp=compiled, domain="messages")


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The page language: the visitor's choice (cookie), else Korean. The browser's
    Accept-Language is not followed: the city's residents read Korean first, and an
    English browser on a Korean phone is common; English is one tap away."""
    del accept_language
    return cookie if cookie in LANGUAGES else DEFAULT


def won(amount: int, lang: str) -> str:
    """`1,253,000원` in Korean, `₩1,253,000` in English. Whole won: KRW has no minor unit."""
    digits = format_decimal(abs(amount), format="#,##0", locale="ko_KR")
    sign = "-" if amount < 0 else ""
    return f"{sign}{digits}원" if lang == "ko" else f"{sign}₩{digits}"


def date(value: dt.date | str, lang: str) -> str:
    """`2026년 12월 1일` in Korean, `1 December 2026` in English; a `YYYY-MM-DD` string too."""
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    if lang == "ko":
        return f"{day.year}년 {day.month}월 {day.day}일"
    return babel_format_date(day, format="d MMMM y", locale="en_GB")


def when(epoch_ms: int, lang: str) -> str:
    """A moment in Korean time: `2026년 12월 1일 14:05`, `1 December 2026, 14:05`."""
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, KST)
    clock = moment.strftime("%H:%M")
    if lang == "ko":
        return f"{date(moment.date(), lang)} {clock}"
    return babel_format_datetime(moment, format="d MMMM y, HH:mm", locale="en_GB")

"""The registry's project data: industry codes -> policy categories, each city's 읍·면·동.

Both are CSV files under data/ (documented in docs/merchants.md with their source), read
once per process. An applicant picks an industry code; the category on the chain is the
mapping's, never typed in, so two shops of one trade always get the same category.
"""

from __future__ import annotations

import csv
import functools
import io
from importlib import resources

import msgspec


class Industry(msgspec.Struct, frozen=True):
    code: str
    name_ko: str
    name_en: str
    category: str


class Area(msgspec.Struct, frozen=True):
    label: str
    name_ko: str
    name_en: str


def _rows(*parts: str) -> list[dict[str, str]]:
    entry = resources.files("localpay.services.registry").joinpath("data", *parts)
    if not entry.is_file():
        return []
    return list(csv.DictReader(io.StringIO(entry.read_text(encoding="utf-8"))))


@functools.cache
def industries() -> tuple[Industry, ...]:
    """Every industry code of the mapping, in the file's order."""
    return tuple(msgspec.convert(row, Industry) for row in _rows("industry_codes.csv"))


@functools.cache
def _by_code() -> dict[str, Industry]:
    return {i.code: i for i in industries()}


def industry(code: str) -> Industry | None:
    return _by_code().get(code.strip())


@functools.cache
def areas(city: str) -> tuple[Area, ...]:
    """The city's neighbourhoods from data/areas/<city>.csv; () for a city with no file
    (its officials name areas in the directory instead: `localpay area name`)."""
    if not city.isascii() or not city.replace("-", "").isalnum():
        return ()
    return tuple(msgspec.convert(row, Area) for row in _rows("areas", f"{city}.csv"))

"""The shop directory: the chain's merchants (category, area, status) with their names.

The facts that decide a payment come from the chain's state, the names from the
directory table; a shop with no name yet is listed by its id. Searching is by name, id,
neighbourhood and category, the way a citizen looks for a shop at the counter.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Final

import msgspec

from localpay.domain.errors import Refused
from localpay.ledger.ports import Store
from localpay.ledger.state import Merchant
from localpay.services.directory.ports import DirectoryRepository

#: Longest shop or area name kept (a sign board, not a paragraph).
NAME_MAX: Final = 60
SHOPS_PAGE_MAX: Final = 100
ACCOUNT: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{2,39}$")
LABEL: Final = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


class BadName(Refused):
    """A name the directory does not keep (empty, too long, control characters)."""


class Shop(msgspec.Struct, frozen=True):
    merchant: str
    name: str
    name_en: str
    category: str
    area: str
    area_name: str
    area_name_en: str
    #: "active" or "suspended": a suspended shop is listed, and cannot be paid.
    status: str


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().replace(" ", "")


def _check_name(name: str) -> str:
    name = unicodedata.normalize("NFC", name.strip())
    if not name or len(name) > NAME_MAX or any(unicodedata.category(ch)[0] == "C" for ch in name):
        raise BadName(f"a name is 1 to {NAME_MAX} printable characters")
    return name


class Directory:
    def __init__(self, store: Store, records: DirectoryRepository) -> None:
        self.store = store
        self.records = records

    def _merchants(self, city: str) -> list[Merchant]:
        decode: Callable[[bytes], Merchant] = msgspec.json.Decoder(Merchant).decode
        return [decode(raw) for key, raw in self.store.state(city) if key.startswith("m:")]

    def _shop(
        self,
        merchant: Merchant,
        names: dict[str, tuple[str, str]],
        areas: dict[str, tuple[str, str]],
    ) -> Shop:
        name, name_en = names.get(merchant.id, (merchant.id, merchant.id))
        area, area_en = areas.get(merchant.area, (merchant.area, merchant.area))
        return Shop(
            merchant.id,
            name,
            name_en,
            merchant.category,
            merchant.area,
            area,
            area_en,
            merchant.status,
        )

    def shops(
        self,
        city: str,
        query: str = "",
        area: str = "",
        category: str = "",
        limit: int | None = SHOPS_PAGE_MAX,
    ) -> list[Shop]:
        """Shops matching all the filters, active ones first, by name; `query` matches a
        name (Korean or English, spaces and case ignored) or the exact id. `limit` None:
        all of them (the demo's naming, an export)."""
        names, areas = self.records.shop_names(city), self.records.area_names(city)
        wanted = _fold(query)
        found = []
        for merchant in self._merchants(city):
            if (area and merchant.area != area) or (category and merchant.category != category):
                continue
            shop = self._shop(merchant, names, areas)
            if wanted and not (
                wanted in _fold(shop.name) or wanted in _fold(shop.name_en) or wanted == merchant.id
            ):
                continue
            found.append(shop)
        found.sort(key=lambda s: (s.status != "active", s.name, s.merchant))
        return found if limit is None else found[: max(1, min(limit, SHOPS_PAGE_MAX))]

    def shop(self, city: str, merchant: str) -> Shop | None:
        if not ACCOUNT.fullmatch(merchant):
            return None
        raw = self.store.state_value(city, f"m:{merchant}")
        if raw is None:
            return None
        facts = msgspec.json.decode(raw, type=Merchant)
        # One shop's row, not the city's every name: a scanned code names one shop.
        named = self.records.shop_name(city, merchant)
        names = {merchant: named} if named is not None else {}
        return self._shop(facts, names, self.records.area_names(city))

    def area_names(self, city: str) -> dict[str, tuple[str, str]]:
        """area label -> (Korean name, English name), for the areas that have names."""
        return self.records.area_names(city)

    def categories(self, city: str) -> list[str]:
        return sorted({m.category for m in self._merchants(city)})

    def name_shop(self, city: str, merchant: str, name: str, name_en: str, now_ms: int) -> None:
        if not ACCOUNT.fullmatch(merchant) or self.store.state_value(city, f"m:{merchant}") is None:
            raise BadName(f"no merchant {merchant!r} in {city!r}")
        self.records.name_shops(city, [(merchant, _check_name(name), _check_name(name_en))], now_ms)

    def name_areas(self, city: str, names: list[tuple[str, str, str]]) -> None:
        checked = []
        for area, name, name_en in names:
            if not LABEL.fullmatch(area):
                raise BadName(f"{area!r} is not an area label")
            checked.append((area, _check_name(name), _check_name(name_en)))
        self.records.name_areas(city, checked)

    def name_shops(self, city: str, names: list[tuple[str, str, str]], now_ms: int) -> None:
        """Many at once (the demo, an import from the merchant registry)."""
        checked = [(m, _check_name(n), _check_name(e)) for m, n, e in names]
        self.records.name_shops(city, checked, now_ms)

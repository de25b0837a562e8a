"""The directory's names (services/directory/ports.py) in the directory_* tables."""

from __future__ import annotations

from typing import Final

from localpay.adapters.sql.runner import SqlRunner

_SHOPS: Final = "SELECT merchant, name, name_en FROM directory_shops WHERE city = ?"
_SHOP: Final = "SELECT name, name_en FROM directory_shops WHERE city = ? AND merchant = ?"
_AREAS: Final = "SELECT area, name, name_en FROM directory_areas WHERE city = ?"
_NAME_SHOP: Final = (
    "INSERT INTO directory_shops (city, merchant, name, name_en, updated_ms) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (city, merchant) DO UPDATE SET name = excluded.name,"
    " name_en = excluded.name_en, updated_ms = excluded.updated_ms"
)
_NAME_AREA: Final = (
    "INSERT INTO directory_areas (city, area, name, name_en) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (city, area) DO UPDATE SET name = excluded.name, name_en = excluded.name_en"
)


class SqlDirectoryRepository:
    def __init__(self, store: SqlRunner) -> None:
        self.store = store

    def shop_names(self, city: str) -> dict[str, tuple[str, str]]:
        return {str(m): (str(n), str(e)) for m, n, e in self.store.sql(_SHOPS, (city,))}

    def shop_name(self, city: str, merchant: str) -> tuple[str, str] | None:
        rows = self.store.sql(_SHOP, (city, merchant))
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def area_names(self, city: str) -> dict[str, tuple[str, str]]:
        return {str(a): (str(n), str(e)) for a, n, e in self.store.sql(_AREAS, (city,))}

    def name_shops(self, city: str, names: list[tuple[str, str, str]], now_ms: int) -> None:
        if names:
            self.store.sql_batch([(_NAME_SHOP, (city, m, n, e, now_ms)) for m, n, e in names])

    def name_areas(self, city: str, names: list[tuple[str, str, str]]) -> None:
        if names:
            self.store.sql_batch([(_NAME_AREA, (city, a, n, e)) for a, n, e in names])

"""What the directory keeps beyond the chain: display names of shops and areas."""

from __future__ import annotations

from typing import Protocol


class DirectoryRepository(Protocol):
    def shop_names(self, city: str) -> dict[str, tuple[str, str]]:
        """merchant -> (Korean name, English name) for every named shop of the city."""
        ...

    def shop_name(self, city: str, merchant: str) -> tuple[str, str] | None:
        """(Korean name, English name) of one shop, None if it has none: one row, for the
        paths that name one shop (a scanned QR code, a receipt)."""
        ...

    def area_names(self, city: str) -> dict[str, tuple[str, str]]:
        """area label -> (Korean name, English name)."""
        ...

    def name_shops(self, city: str, names: list[tuple[str, str, str]], now_ms: int) -> None:
        """Set (merchant, Korean name, English name) for each; a name given again replaces."""
        ...

    def name_areas(self, city: str, names: list[tuple[str, str, str]]) -> None:
        """Set (area label, Korean name, English name) for each."""
        ...

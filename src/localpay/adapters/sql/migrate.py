"""Schema migrations: plain versioned SQL files per dialect, applied in order once.

Files live in migrations/<dialect>/NNNN_name.sql. The applied versions are kept in
schema_migrations; a store whose schema is newer than this code refuses to open.
"""

from __future__ import annotations

from importlib import resources
from typing import Any, Protocol


class Connection(Protocol):
    def execute(self, sql: str, params: Any = ..., /) -> Any: ...


def migration_files(dialect: str) -> list[tuple[int, str, str]]:
    folder = resources.files("localpay.adapters.sql.migrations").joinpath(dialect)
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def statements(script: str) -> list[str]:
    """Split a migration into statements (our migrations hold no ';' inside literals)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def pending(applied: set[int], dialect: str) -> list[tuple[int, str, str]]:
    files = migration_files(dialect)
    newest = max((v for v, _, _ in files), default=0)
    if applied and max(applied) > newest:
        raise RuntimeError(
            f"the store's schema version {max(applied)} is newer than this localpay ({newest})"
        )
    return [f for f in files if f[0] not in applied]

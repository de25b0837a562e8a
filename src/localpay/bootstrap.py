"""The composition root: settings -> stores, keys, sequencers, services."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

from localpay.adapters.keystore import KeyStore
from localpay.adapters.sqlite_store import SQLiteStore
from localpay.ledger.store import Store, StoreError

DEFAULT_DB = "sqlite:///data/localpay.db"


def db_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("LOCALPAY_DB") or DEFAULT_DB


def open_store(url: str) -> Store:
    """sqlite:///relative/file.db, sqlite:////absolute/file.db or postgresql://..."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if not path:
            raise StoreError("sqlite URL needs a file path: sqlite:///data/localpay.db")
        return SQLiteStore(path)
    if url.startswith(("postgresql://", "postgres://")):
        from localpay.adapters.postgres_store import PostgresStore  # noqa: PLC0415 (optional driver)

        return PostgresStore(url)
    raise StoreError(f"unknown store URL {url!r}: use sqlite:///path or postgresql://...")


def keys_root(url: str, explicit: str | None = None) -> Path:
    """Where key files live: --keys / LOCALPAY_KEYS, else beside a SQLite file, else ./data."""
    chosen = explicit or os.environ.get("LOCALPAY_KEYS")
    if chosen:
        return Path(chosen)
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).parent / "keys"
    host = urlparse(url).hostname or "local"
    return Path("data") / f"keys-{host}"


def open_keys(url: str, explicit: str | None = None) -> KeyStore:
    return KeyStore(keys_root(url, explicit))

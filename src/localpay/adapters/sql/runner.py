"""What the SQL repositories need from a concrete store: its runner of statements.

The ledger sees a store only through its chain store port (ledger/ports.py); a service
sees only its feature's repository (services/<feature>/ports.py). The repositories in
this package are the one place that runs SQL on the application tables, through the
concrete store's runner: qmark placeholders (`?`) in one query text for both dialects.
"""

from __future__ import annotations

from typing import Any, Protocol

from localpay.ledger.ports import Store

Row = tuple[Any, ...]
Statement = tuple[str, tuple[Any, ...]]


class SqlRunner(Protocol):
    #: "sqlite" or "postgres": for the few statements where the dialects really differ.
    dialect: str

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[Row]:
        """One statement (qmark placeholders) in its own transaction; its rows, if any."""
        ...

    def sql_batch(self, statements: list[Statement]) -> list[list[Row]]:
        """Several statements in one transaction, all or none; each one's rows."""
        ...


class SqlStore(Store, SqlRunner, Protocol):
    """A concrete store: the ledger's chain store and the runner of its repositories."""

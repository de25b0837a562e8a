"""The chain store's query text, one for both dialects: qmark placeholders (`?`).

SQLite runs it as written; PostgresStore turns each `?` into `%s` once per text
(postgres.pg_text). Only what the dialects really do differently stays in sqlite.py
and postgres.py: COPY and the unnest upserts, leases, the loose index scan over
cities, hashing leaves in the server, and connection handling. Text that only
PostgreSQL runs keeps psycopg's own placeholders there (`%s`, and `%b` for binary
parameters, which qmark cannot say).
"""

from __future__ import annotations

from typing import Final

#: Larger than any height or seq: "no end" in a range.
NO_END: Final = 2**62

TX_COLUMNS: Final = "seq, height, id, kind, envelope, result, parties, balances"
BLOCK_COLUMNS: Final = "height, header, hash, signature, checkpoint, frontier"

INSERT_BLOCK: Final = (
    "INSERT INTO blocks (city, height, hash, header, signature, checkpoint, frontier)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
INSERT_TX: Final = f"INSERT INTO txs (city, {TX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
UPSERT_STATE: Final = (
    "INSERT INTO state (city, key, value, height) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (city, key) DO UPDATE SET value = excluded.value, height = excluded.height"
)

HEAD: Final = f"SELECT {BLOCK_COLUMNS} FROM blocks WHERE city = ? ORDER BY height DESC LIMIT 1"
# Keyset pages: bounded memory, and a caller may read more between two rows.
BLOCKS_PAGE: Final = (
    f"SELECT {BLOCK_COLUMNS} FROM blocks"
    " WHERE city = ? AND height >= ? AND height < ? ORDER BY height LIMIT ?"
)
TXS_PAGE: Final = (
    f"SELECT {TX_COLUMNS} FROM txs WHERE city = ? AND seq >= ? AND seq < ? ORDER BY seq LIMIT ?"
)
BLOCK_TXS: Final = f"SELECT {TX_COLUMNS} FROM txs WHERE city = ? AND height = ? ORDER BY seq"
FIND_TX: Final = f"SELECT {TX_COLUMNS} FROM txs WHERE city = ? AND id = ?"
# Ids in pages by id, not by seq: both read only the (city, id) index, never the rows.
TX_IDS_FIRST_PAGE: Final = "SELECT id FROM txs WHERE city = ? ORDER BY id LIMIT ?"
TX_IDS_PAGE: Final = "SELECT id FROM txs WHERE city = ? AND id > ? ORDER BY id LIMIT ?"
STATE_FIRST_PAGE: Final = "SELECT key, value FROM state WHERE city = ? ORDER BY key LIMIT ?"
STATE_PAGE: Final = "SELECT key, value FROM state WHERE city = ? AND key > ? ORDER BY key LIMIT ?"
STATE_VALUE: Final = "SELECT value FROM state WHERE city = ? AND key = ?"

#: Every table that holds a city's chain or what is derived from it, dependents first.
CITY_TABLES: Final = ("cosignatures", "tx_parties", "state", "txs", "blocks")
DROP_CITY: Final = tuple(f"DELETE FROM {table} WHERE city = ?" for table in CITY_TABLES)

ADD_COSIGNATURE: Final = (
    "INSERT INTO cosignatures (city, size, witness_key, line, timestamp) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT DO NOTHING RETURNING 1"
)
COSIGNATURES: Final = (
    "SELECT witness_key, line, timestamp FROM cosignatures WHERE city = ? AND size = ?"
    " ORDER BY witness_key"
)


def cosigned_sizes(keys: int) -> str:
    """Checkpoint sizes cosigned by at least some of `keys` witness keys."""
    return (
        "SELECT size FROM cosignatures WHERE city = ? AND size < ?"
        f" AND witness_key IN ({', '.join('?' * keys)})"
        " GROUP BY size HAVING count(*) >= ? ORDER BY size DESC LIMIT ?"
    )

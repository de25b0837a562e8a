"""The sales tables (services/sales/ports.py SaleRepository): orders with their virtual
accounts, and the bank's deposit notices. One query text for both dialects; inserts are
idempotent (ON CONFLICT DO NOTHING, then the row as first recorded)."""

from __future__ import annotations

from typing import Final

from localpay.adapters.sql.runner import Row, SqlRunner
from localpay.services.sales.ports import NoticeRecord, SaleOrder

_ORDER_COLUMNS: Final = (
    "city, order_id, wallet, program, amount, bonus, account, deadline_ms, created_ms"
)
_ADD_ORDER: Final = (
    f"INSERT INTO sale_orders ({_ORDER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (city, order_id) DO NOTHING"
)
_ORDER: Final = f"SELECT {_ORDER_COLUMNS} FROM sale_orders WHERE city = ? AND order_id = ?"
_BY_ACCOUNT: Final = f"SELECT {_ORDER_COLUMNS} FROM sale_orders WHERE account = ?"
_ORDERS: Final = f"SELECT {_ORDER_COLUMNS} FROM sale_orders WHERE city = ?"
_NEWEST: Final = " ORDER BY created_ms DESC, order_id DESC LIMIT ?"

_NOTICE_COLUMNS: Final = "notice, city, order_id, amount, deposit_ref, tx, code"
_ADD_NOTICE: Final = (
    f"INSERT INTO sale_notices ({_NOTICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (notice) DO NOTHING"
)
_NOTICE: Final = f"SELECT {_NOTICE_COLUMNS} FROM sale_notices WHERE notice = ?"
_NOTICES: Final = f"SELECT {_NOTICE_COLUMNS} FROM sale_notices WHERE city = ? LIMIT ?"
_ANSWERED: Final = "UPDATE sale_notices SET code = ? WHERE notice = ?"


def _order(row: Row) -> SaleOrder:
    city, order, wallet, program, amount, bonus, account, deadline, created = row
    return SaleOrder(
        str(city),
        str(order),
        str(wallet),
        str(program),
        int(amount),
        int(bonus),
        str(account),
        int(deadline),
        int(created),
    )


def _notice(row: Row) -> NoticeRecord:
    notice, city, order, amount, ref, tx, code = row
    return NoticeRecord(
        str(notice), str(city), str(order), int(amount), str(ref), str(tx), str(code)
    )


class SqlSaleRepository:
    def __init__(self, store: SqlRunner) -> None:
        self.store = store

    def add_order(self, order: SaleOrder) -> SaleOrder:
        o = order
        row = (o.city, o.order, o.wallet, o.program, o.amount, o.bonus, o.account)
        self.store.sql(_ADD_ORDER, (*row, o.deadline_ms, o.created_ms))
        found = self.order(o.city, o.order)
        assert found is not None
        return found

    def order(self, city: str, order: str) -> SaleOrder | None:
        rows = self.store.sql(_ORDER, (city, order))
        return _order(rows[0]) if rows else None

    def by_account(self, account: str) -> SaleOrder | None:
        rows = self.store.sql(_BY_ACCOUNT, (account,))
        return _order(rows[0]) if rows else None

    def orders(self, city: str, wallet: str | None = None, limit: int = 100) -> list[SaleOrder]:
        if wallet is None:
            return [_order(r) for r in self.store.sql(_ORDERS + _NEWEST, (city, limit))]
        query = _ORDERS + " AND wallet = ?" + _NEWEST
        return [_order(r) for r in self.store.sql(query, (city, wallet, limit))]

    def add_notice(self, record: NoticeRecord) -> NoticeRecord:
        r = record
        self.store.sql(
            _ADD_NOTICE, (r.notice, r.city, r.order, r.amount, r.deposit_ref, r.tx, r.code)
        )
        rows = self.store.sql(_NOTICE, (r.notice,))
        return _notice(rows[0])

    def answered(self, notice: str, code: str) -> None:
        self.store.sql(_ANSWERED, (code, notice))

    def notices(self, city: str, limit: int = 100) -> list[NoticeRecord]:
        return [_notice(r) for r in self.store.sql(_NOTICES, (city, limit))]

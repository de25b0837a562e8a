"""Builders for tests: one policy() for every test, the small demo chain's record."""

from __future__ import annotations

from dataclasses import dataclass

from localpay.domain.policy import Policy
from localpay.ledger.ports import Store


@dataclass
class DemoChain:
    """A small simulated Gimpo chain (3 days) and a payment in its middle."""

    url: str
    store: Store
    pay_seq: int
    pay_height: int


def policy(name: str = "p", **overrides: object) -> Policy:
    """A program policy that allows everything and bounds nothing, but for `overrides`."""
    base: dict[str, object] = dict(
        name=name,
        allowed_categories=[],
        denied_categories=[],
        areas=[],
        revenue_cap=0,
        valid_until="",
        valid_days=0,
        per_payment_cap=0,
        daily_cap=0,
        monthly_cap=0,
        holding_cap=0,
        transferable=False,
        refundable=False,
    )
    base.update(overrides)
    return Policy(**base)  # type: ignore[arg-type]

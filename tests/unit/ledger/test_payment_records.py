"""Payment records in the state: retired oldest first once their window and grace have
passed, whatever order they were loaded in; loaded records share their repeated names."""

from __future__ import annotations

import msgspec

from localpay.domain import commands as c
from localpay.ledger.state import RETIRE_GRACE_MS, CityState, Draw, Payment

DAY_MS = 86_400_000
HORIZON = c.DEFAULT_REFUND_WINDOW_DAYS * DAY_MS + RETIRE_GRACE_MS
GENESIS = c.CreateCity(
    id="b" * 32,
    city="gimpo",
    name="김포시",
    currency="KRW",
    operator_key="ab" * 32,
    officials=[c.Official(key="cd" * 32, role="maker")],
    approvals={},
    default_valid_days=1825,
)


def _payment(n: int, at_ms: int) -> Payment:
    draw = Draw(f"lot-{n % 2}", "general", 1, 100, at_ms + 10 * DAY_MS, "bench")
    return Payment(f"{n:032x}", "w-ann", "m-cafe", 100, 0, at_ms, [draw])


def test_records_retire_oldest_first_at_the_horizon_whatever_the_load_order() -> None:
    state = CityState("gimpo")
    state.genesis = GENESIS
    times = {3: 3_000, 1: 1_000, 2: 2_000, 4: 2_000}
    for n, at in times.items():  # as a store returns them: by key, not by time
        state.load_entity(f"x:{n:032x}", msgspec.json.encode(_payment(n, at)))
    assert state.retire(1_000 + HORIZON - 1) == []
    assert state.retire(2_000 + HORIZON) == [
        f"x:{1:032x}",
        f"x:{2:032x}",
        f"x:{4:032x}",
    ]
    assert list(state.payments) == [f"{3:032x}"]
    assert f"x:{3:032x}" in state.entity_keys()
    assert state.retire(10**15) == [f"x:{3:032x}"] and state.payments == {}


def test_loaded_records_share_their_wallet_merchant_and_lot_names() -> None:
    state = CityState("gimpo")
    for n in (0, 2):
        data = msgspec.json.encode(_payment(n, 1_000))
        state.load_entity(f"x:{n:032x}", data)
    a, b = state.payments[f"{0:032x}"], state.payments[f"{2:032x}"]
    assert a.wallet is b.wallet and a.merchant is b.merchant
    assert a.draws[0].lot is b.draws[0].lot and a.draws[0].origin is b.draws[0].origin

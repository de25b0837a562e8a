"""The console's reads straight from a store, for the command line (no sequencer runs:
a server may be running the city on the same store)."""

from __future__ import annotations

from localpay.ledger.ports import Store
from localpay.ledger.state import CityState
from localpay.services.cities.inspect import require_city


def programs_and_merchants(store: Store, city: str) -> CityState:
    """A city state holding only its programs and merchants (what previews read)."""
    require_city(store, city)
    state = CityState(city)
    for key, data in store.state(city):
        if key.startswith(("p:", "m:")):
            state.load_entity(key, data)
    return state

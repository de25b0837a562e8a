"""The holds job on both stores: a card authorization never completed is released by the
operator once its time is out, and not a minute before; a re-run changes nothing."""

from __future__ import annotations

from localpay.domain.limits import HOLD_MS_MAX
from localpay.services.jobs import holds

from .conftest import World


def test_an_expired_hold_is_released_by_the_job(world: World) -> None:
    number, wallet = world.card_wallet(50_000)
    open_holds = holds.OpenHolds(world.store, "gimpo")  # loaded before: followed in the log
    placed = world.clock.now_ms
    assert world.ask("0100", number, 20_000).code == "00"
    kept = world.ask("0200", world.card_wallet(10_000)[0], 5_000)  # captured: not a hold left
    assert kept.code == "00"
    assert holds.run(world.ledgers, open_holds, placed + HOLD_MS_MAX - 1).done == 0
    assert world.balance(wallet) == 30_000
    world.clock.now_ms = placed + HOLD_MS_MAX + 60_000
    tally = holds.run(world.ledgers, open_holds, world.clock.now_ms)
    assert (tally.done, tally.refused) == (1, {})
    assert world.balance(wallet) == 50_000
    assert len(open_holds) == 0
    fresh = holds.OpenHolds(world.store, "gimpo")  # after a restart: nothing held any more
    assert holds.run(world.ledgers, fresh, world.clock.now_ms).done == 0

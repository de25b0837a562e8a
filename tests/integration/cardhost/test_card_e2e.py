"""End to end over a real TCP socket, on both stores: terminals -> the card host ->
the card service (container.cards) -> the city's sequencer. A card-only wallet topped up
at the counter buys, is charged once for a duplicate transmission, gets its money back
from a reversal sent after the answer and from one that overtook its original, locks
after wrong PINs, and a suspended merchant's terminal is refused."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import Container
from localpay.domain import commands as c
from localpay.domain.principals import Principal
from localpay.entrypoints.cardhost import terminal
from localpay.entrypoints.cardhost.server import CardHost, HostThread
from localpay.entrypoints.cardhost.terminal import BlockingTerminal
from localpay.services.cities.ledgers import new_id
from localpay.services.cities.officials import OfficialSigner
from localpay.services.payments.card import pins
from localpay.testing.servers import FAST_HASHER, seeded_store

CITY = "gimpo"
SHOP, SHOP_TERMINAL = "m-00000", "TCARD001"
GONE, GONE_TERMINAL = "m-00001", "TCARD002"
MAKER = Principal(id="p-gimpo-maker", city=CITY, role="city_maker", username="maker")


@dataclass
class Card:
    number: str
    wallet: str


@dataclass
class World:
    container: Container
    port: int
    stan: int = 0

    def card(self, top_up: int, pin: str | None = None) -> Card:
        issued = self.container.cards.issue(MAKER, CITY, new_id(), pin=pin)
        self.container.cards.top_up(MAKER, CITY, issued.view.wallet, "general", top_up, new_id())
        return Card(issued.number, issued.view.wallet)

    def balance(self, card: Card) -> int:
        return self.container.cards.wallet_balance(CITY, card.wallet).balance

    def request(self, card: Card, amount: int, mti: str = "0100", **kw: str) -> dict[str, str]:
        self.stan += 1
        return terminal.purchase(
            self.stan, pan=card.number, amount=amount, mti=mti,
            terminal=kw.pop("terminal", SHOP_TERMINAL), acceptor="LOCALPAY-SHOP01", **kw,
        )  # fmt: skip

    def link(self) -> BlockingTerminal:
        return BlockingTerminal("127.0.0.1", self.port, timeout=30)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    folder: Path = tmp_path_factory.mktemp("cardhost-e2e")
    url = seeded_store(request, folder)
    container = Container(url, str(folder / "keys"), hasher=FAST_HASHER)
    container.start()
    cards = container.cards
    cards.add_terminal(MAKER, CITY, SHOP_TERMINAL, SHOP)
    cards.add_terminal(MAKER, CITY, GONE_TERMINAL, GONE)
    genesis = container.ledgers.sequencer(CITY).state.genesis
    assert genesis is not None
    signer = OfficialSigner(KeyStore(folder / "keys"), CITY, dict(genesis.approvals))
    suspend = c.SuspendMerchant(id=new_id(), city=CITY, merchant=GONE, reason="test")
    assert container.ledgers.execute(CITY, signer.sign(suspend)).ok
    host = HostThread(CardHost(cards), "127.0.0.1", 0).start()
    try:
        yield World(container, host.host.port)
    finally:
        host.close()
        container.close()


def _ask(link: BlockingTerminal, fields: dict[str, str]) -> dict[str, str]:
    answer = link.ask(fields)
    assert answer is not None, "the host closed the connection"
    assert (answer["11"], answer["37"], answer["41"]) == (fields["11"], fields["37"], fields["41"])
    return answer


def _field54(balance: int) -> str:
    return f"0002410C{balance:012d}"


def test_a_purchase_a_duplicate_and_a_reversal_after_the_answer(world: World) -> None:
    card = world.card(50_000)
    start = world.balance(card)
    link = world.link()
    buy = world.request(card, 12_000)
    first = _ask(link, buy)
    assert (first["t"], first["39"]) == ("0110", "00")
    assert len(first["38"]) == 6
    assert world.balance(card) == start - 12_000
    assert first["54"] == _field54(start - 12_000)
    again = _ask(link, buy)  # the terminal did not see the answer and sends it again
    assert (again["39"], again["38"], again["54"]) == ("00", first["38"], first["54"])
    assert world.balance(card) == start - 12_000  # charged once
    reversal = {k: v for k, v in buy.items() if k in ("2", "3", "4", "11", "37", "41")}
    back = _ask(link, {**reversal, "t": "0400"})
    assert (back["t"], back["39"]) == ("0410", "00")
    assert world.balance(card) == start
    assert back["54"] == _field54(start)


def test_a_reversal_that_overtakes_its_original_voids_it(world: World) -> None:
    card = world.card(30_000)
    start = world.balance(card)
    link = world.link()
    buy = world.request(card, 5_000)
    reversal = {k: v for k, v in buy.items() if k in ("2", "3", "4", "11", "37", "41")}
    back = _ask(link, {**reversal, "t": "0420"})
    assert (back["t"], back["39"]) == ("0430", "00")
    late = _ask(link, buy)  # the original, arriving after its reversal
    assert late["39"] == "94"  # hold_voided: the original is refused, never charged
    assert world.balance(card) == start


def test_a_purchase_0200_is_captured_and_the_balance_enquiry_answers(world: World) -> None:
    card = world.card(20_000)
    start = world.balance(card)
    link = world.link()
    paid = _ask(link, world.request(card, 7_000, mti="0200"))
    assert (paid["t"], paid["39"]) == ("0210", "00")
    assert world.balance(card) == start - 7_000
    enquiry = _ask(link, world.request(card, 0, processing="310000"))
    assert (enquiry["39"], enquiry["54"]) == ("00", _field54(start - 7_000))
    short = _ask(link, world.request(card, start))  # more than is left
    assert short["39"] == "51"
    assert world.balance(card) == start - 7_000


def test_wrong_pins_lock_the_card(world: World) -> None:
    card = world.card(10_000, pin="4321")
    start = world.balance(card)
    link = world.link()
    wrong = pins.pin_block("1111", card.number)
    codes = [_ask(link, world.request(card, 1_000, pin_block=wrong))["39"] for _ in range(5)]
    assert codes == ["55", "55", "55", "55", "75"]
    right = pins.pin_block("4321", card.number)
    assert _ask(link, world.request(card, 1_000, pin_block=right))["39"] == "75"
    assert world.balance(card) == start  # nothing held


def test_a_suspended_merchants_terminal_and_an_unknown_one_are_refused(world: World) -> None:
    card = world.card(10_000)
    link = world.link()
    assert _ask(link, world.request(card, 1_000, terminal=GONE_TERMINAL))["39"] == "58"
    assert _ask(link, world.request(card, 1_000, terminal="TNOWHERE"))["39"] == "58"
    assert _ask(link, world.request(card, 1_000))["39"] == "00"


def test_twenty_purchases_in_flight_on_one_connection(world: World) -> None:
    card = world.card(100_000)
    start = world.balance(card)
    link = world.link()
    sent = [world.request(card, 1_000 + n) for n in range(20)]
    for fields in sent:
        link.send(fields)
    answers = {a["11"]: a for a in (link.read() for _ in sent) if a is not None}
    assert set(answers) == {f["11"] for f in sent}
    assert all(a["39"] == "00" for a in answers.values()), answers
    assert world.balance(card) == start - sum(1_000 + n for n in range(20))


def test_an_authorization_completed_in_part_by_a_0200(world: World) -> None:
    card = world.card(30_000)
    start = world.balance(card)
    link = world.link()
    held = _ask(link, world.request(card, 10_000))
    assert held["39"] == "00"
    assert world.balance(card) == start - 10_000
    completion = {**world.request(card, 8_000, mti="0200"), "38": held["38"]}
    done = _ask(link, completion)
    assert (done["t"], done["39"]) == ("0210", "00")
    assert world.balance(card) == start - 8_000  # the 2,000 not captured went back
    assert done["54"] == _field54(start - 8_000)

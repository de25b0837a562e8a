"""Private results, on a live server and both stores: a balance is its owner's alone, and
a rejection is its sender's alone (docs/transparency.md, "Balances and rejections").

- The citizen who signs a payment or a gift sees their own balance after it; no other
  party (merchant staff, a gift's receiver) sees it, in an answer, a history, a
  transaction view or a receipt; the Merkle leaf never holds a balance.
- A refused command naming an account is in its sender's history, not in the named
  account's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import nacl.signing
import pytest

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import Container
from localpay.domain import commands as c
from localpay.ledger.signatures import sign_command
from localpay.services.cities.ledgers import new_id
from localpay.services.history.service import HistoryIndexer
from localpay.sim.demo import DEMO_SECRET, derived_key
from localpay.testing.servers import World, live_container, problem_code, seeded_store

CITY = "gimpo"
PAYER, RECEIVER, MERCHANT = "w-0000001", "w-0000002", "m-00000"
_keys = iter(range(10**9))


class Live(World):
    container: Container


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("private")
    url = seeded_store(request, folder)
    with live_container(url, folder / "keys") as (base, container, _):
        world = Live(base, folder / "keys")
        world.container = container
        world.tokens[CITY] = {
            "owner": world.login(CITY, "owner"),
            "payer": world.citizen(CITY, PAYER),
            "receiver": world.citizen(CITY, RECEIVER),
        }
        yield world


def _key(live: World, wallet: str) -> nacl.signing.SigningKey:
    return derived_key(bytes(KeyStore(live.keys).load(CITY, DEMO_SECRET)), wallet)


def _post(live: World, path: str, body: bytes | dict[str, Any], token: str | None = None) -> Any:
    headers = {"Idempotency-Key": f"private-{next(_keys)}", "Content-Type": "application/json"}
    with live.client(token) as client:
        if isinstance(body, bytes):
            return client.post(f"/v1/cities/{CITY}/{path}", content=body, headers=headers)
        return client.post(f"/v1/cities/{CITY}/{path}", json=body, headers=headers)


def _get(live: World, path: str, token: str) -> Any:
    with live.client(token) as client:
        response = client.get(f"/v1/cities/{CITY}/{path}")
    assert response.status_code == 200, response.text
    return response.json()


def _balance_now(live: Live, wallet: str) -> int:
    return int(_get(live, f"wallets/{wallet}", live.tokens[CITY][_owner(wallet)])["balance"])


def _owner(wallet: str) -> str:
    return "payer" if wallet == PAYER else "receiver"


def _history(live: Live, path: str, token: str, until: str | None = None) -> dict[str, Any]:
    """A history by id; waits (the index is written off the commit path, <= 0.5 s) until
    `until` is listed, if given."""
    deadline = time.monotonic() + 10
    while True:
        items = _get(live, f"{path}/transactions?limit=200", token)["items"]
        found = {item["id"]: item for item in items}
        if until is None or until in found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _indexer(live: Live) -> HistoryIndexer:
    return next(o for o in live.container.ledgers.observers if isinstance(o, HistoryIndexer))


def _settled(live: Live) -> None:
    """Every transaction so far is in the history index (flushed now, not within 0.5 s)."""
    _indexer(live).flush()


def _text(value: Any) -> str:
    return json.dumps(value)


def _pay(live: Live, amount: int, wallet: str = PAYER, merchant: str = MERCHANT) -> Any:
    pay = c.Pay(
        id=new_id(), city=CITY, wallet=wallet, merchant=merchant, amount=amount, evidence=""
    )
    return _post(live, "payments", sign_command(pay, [_key(live, wallet)]))


def test_the_payer_sees_their_own_balance_and_the_merchant_never_does(live: Live) -> None:
    answer = _pay(live, 1_000)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["balance"] == _balance_now(live, PAYER)  # the citizen's own answer
    assert "balance" not in body["result"]  # the recorded result states none
    _settled(live)
    owner = live.tokens[CITY]["owner"]
    in_history = _history(live, f"merchants/{MERCHANT}", owner, until=body["id"])[body["id"]]
    as_tx = _get(live, f"transactions/{body['id']}", owner)
    receipt = _get(live, f"transactions/{body['id']}/receipt", owner)
    for seen in (in_history, as_tx, receipt):
        assert '"balance"' not in _text(seen), seen
    own = _history(live, f"wallets/{PAYER}", live.tokens[CITY]["payer"], until=body["id"])
    assert own[body["id"]]["balance"] == body["balance"]


def test_a_replayed_payment_shows_the_balance_only_to_the_signed_in_payer(live: Live) -> None:
    pay = c.Pay(id=new_id(), city=CITY, wallet=PAYER, merchant=MERCHANT, amount=500, evidence="")
    envelope = sign_command(pay, [_key(live, PAYER)])
    first = _post(live, "payments", envelope).json()
    # Anyone can read the envelope off a receipt and send it again: no balance for them.
    for token in (None, live.tokens[CITY]["owner"]):
        again = _post(live, "payments", envelope, token).json()
        assert again["duplicate"] is True and "balance" not in again, again
    mine = _post(live, "payments", envelope, live.tokens[CITY]["payer"]).json()
    assert mine["duplicate"] is True and mine["balance"] == first["balance"]


def test_a_staff_refund_answer_holds_no_citizen_balance(live: Live) -> None:
    paid = _pay(live, 2_000).json()
    refund = _post(
        live,
        f"merchants/{MERCHANT}/refunds",
        {"payment": paid["id"], "amount": 700},
        live.tokens[CITY]["owner"],
    )
    assert refund.status_code == 201, refund.text
    body = refund.json()
    citizen_after = _balance_now(live, PAYER)
    assert "balance" not in body["result"]
    assert body.get("balance") in (None, _merchant_balance(live)), body  # its own, at most
    assert citizen_after not in _numbers(body["result"])
    _settled(live)
    history = _history(live, f"merchants/{MERCHANT}", live.tokens[CITY]["owner"], body["id"])
    assert history[body["id"]].get("balance") in (None, _merchant_balance(live))
    assert "balance" not in history[body["id"]]["result"]


def _merchant_balance(live: Live) -> int:
    view = _get(live, f"merchants/{MERCHANT}", live.tokens[CITY]["owner"])
    return int(view["balance"])


def _numbers(value: Any) -> set[int]:
    if isinstance(value, int):
        return {value}
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return set().union(*map(_numbers, value)) if value else set()
    return set()


def test_a_gift_receiver_never_sees_the_senders_balance(live: Live) -> None:
    gift = c.Transfer(id=new_id(), city=CITY, wallet=PAYER, to=RECEIVER, amount=300, evidence="")
    answer = _post(live, "transfers", sign_command(gift, [_key(live, PAYER)]))
    assert answer.status_code == 201, answer.text
    sender_after = answer.json()["balance"]
    assert sender_after == _balance_now(live, PAYER)
    _settled(live)
    receiver = live.tokens[CITY]["receiver"]
    item = _history(live, f"wallets/{RECEIVER}", receiver, until=gift.id)[gift.id]
    for seen in (
        item,
        _get(live, f"transactions/{gift.id}", receiver),
        _get(live, f"transactions/{gift.id}/receipt", receiver),
    ):
        assert '"balance"' not in _text(seen), seen
    sender = _history(live, f"wallets/{PAYER}", live.tokens[CITY]["payer"], until=gift.id)
    assert sender[gift.id]["balance"] == sender_after


def test_a_refused_command_naming_a_wallet_stays_out_of_its_history(live: Live) -> None:
    # The receiver tries to pull a gift out of the payer's wallet with its own key:
    # recorded (a key the command names signed it), and the receiver's business only.
    pull = c.Transfer(id=new_id(), city=CITY, wallet=PAYER, to=RECEIVER, amount=100, evidence="")
    refused = _post(live, "transfers", sign_command(pull, [_key(live, RECEIVER)]))
    assert problem_code(refused) == "signer_not_authorized", refused.text
    assert refused.json()["receipt"]["seq"] is not None, "recorded on the chain"
    # The payer's own refused gift names the receiver: the payer's business only.
    greedy = c.Transfer(
        id=new_id(), city=CITY, wallet=PAYER, to=RECEIVER, amount=10**10, evidence=""
    )
    answer = _post(live, "transfers", sign_command(greedy, [_key(live, PAYER)]))
    assert problem_code(answer) == "insufficient_funds", answer.text
    # A refused payment names the merchant: the payer's business only.
    broke = _pay(live, 10**10)
    assert problem_code(broke) == "insufficient_funds", broke.text
    broke_id = broke.json()["receipt"]["id"]
    _settled(live)
    payer = _history(live, f"wallets/{PAYER}", live.tokens[CITY]["payer"], until=greedy.id)
    receiver = _history(live, f"wallets/{RECEIVER}", live.tokens[CITY]["receiver"], pull.id)
    merchant = _history(live, f"merchants/{MERCHANT}", live.tokens[CITY]["owner"])
    assert greedy.id in payer and broke_id in payer and pull.id not in payer
    assert pull.id in receiver and greedy.id not in receiver
    assert broke_id not in merchant
    assert "balance" not in payer[greedy.id]  # a rejection changed nothing, shows nothing


def test_no_stored_result_states_a_balance(live: Live) -> None:
    txs = list(live.container.store.txs(CITY))
    assert txs and all(b"balance" not in tx.result and b"balance" not in tx.leaf() for tx in txs)
    assert any(tx.balances for tx in txs), "the senders' balances are kept beside the leaf"


def test_catch_up_indexes_exactly_what_the_live_index_did(live: Live) -> None:
    """Rebuilt from the stored parties, and derived again where a row has none (an
    imported chain), the index is the same: rejections stay with their senders."""
    store = live.container.store
    _settled(live)
    before = sorted(store.sql("SELECT account, seq FROM tx_parties WHERE city = ?", (CITY,)))
    store.sql("DELETE FROM tx_parties WHERE city = ?", (CITY,))
    _indexer(live).catch_up(CITY)
    rebuilt = sorted(store.sql("SELECT account, seq FROM tx_parties WHERE city = ?", (CITY,)))
    assert rebuilt == before
    store.sql("DELETE FROM tx_parties WHERE city = ?", (CITY,))
    store.sql("UPDATE txs SET parties = NULL WHERE city = ?", (CITY,))
    _indexer(live).catch_up(CITY)
    derived = sorted(store.sql("SELECT account, seq FROM tx_parties WHERE city = ?", (CITY,)))
    assert derived == before

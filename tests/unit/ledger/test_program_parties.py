"""The new commands name the wallet they concern, so the ledger's one rule of parties
(machine.accounts_of) lists it and an applied one shows in that wallet's history, also
when only the operator signed it (a batch row, a cashback, a deposit, a lapse)."""

from __future__ import annotations

import pytest

from localpay.domain import commands as c
from localpay.ledger import machine, privacy
from localpay.ledger.signatures import public_key_hex
from localpay.testing.machine_city import CITY, OPERATOR

NEW = [
    c.OrderPurchase(id="1" * 32, city=CITY, wallet="alice", program="p", amount=1),
    c.ConfirmPurchase(
        id="2" * 32, city=CITY, wallet="alice", order="1" * 32, amount=1, deposit_ref="r"
    ),
    c.LapseOrder(id="3" * 32, city=CITY, wallet="alice", order="1" * 32),
    c.CancelPurchase(id="4" * 32, city=CITY, wallet="alice", purchase="1" * 32),
    c.RefundBalance(id="5" * 32, city=CITY, wallet="alice", purchase="1" * 32),
    c.Cashback(id="6" * 32, city=CITY, wallet="alice", program="p", month=24_316),
    c.BatchCredit(
        id="7" * 32, city=CITY, batch="b1", row=0, wallet="alice", amount=1, evidence="", proof=[]
    ),
]


@pytest.mark.parametrize("command", NEW, ids=lambda cmd: type(cmd).__name__)
def test_the_wallet_is_a_party_and_sees_it_in_its_history(command: c.Command) -> None:
    assert machine.accounts_of(command) == ("alice",)
    operator = [public_key_hex(OPERATOR)]
    sender = privacy.sender(command, operator, lambda _: ())  # no account key signed it
    assert sender is None
    assert privacy.history_parties(machine.accounts_of(command), sender, ok=True) == ("alice",)
    # Refused, it shows in no one's history: nobody's wallet is filled with others' junk.
    assert privacy.history_parties(machine.accounts_of(command), sender, ok=False) == ()


def test_every_command_naming_a_wallet_lists_it() -> None:
    for kind in c.Command.__args__:
        if "wallet" in kind.__struct_fields__:
            assert "wallet" in machine._PARTY_FIELDS[kind], kind

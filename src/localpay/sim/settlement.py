"""The demo city's settlement at mock-bank: the trust account holding the won behind the
units already issued, a bank account for every demo shop (held at mock-bank, so its
payouts book and its statements show them), and each shop's payout account registered
on the chain. Idempotent: `make run` a second time finds everything in place."""

from __future__ import annotations

from localpay.adapters.bank.mockbank import (
    HOUSE_CODE,
    MockBankClient,
    ensure_trust_account,
    house_number,
    trust_party,
)
from localpay.ledger.state import MERCHANT_ACTIVE
from localpay.services.settlement.ports import Party
from localpay.services.settlement.service import SettlementService


def shop_party(city: str, merchant: str) -> Party:
    return Party(f"가맹점 {merchant}", HOUSE_CODE, house_number(city, merchant))


def shop_account_id(city: str, merchant: str) -> str:
    """The shop's account id at mock-bank: from its number, since mock-bank builds its
    MsgIds from an id's first 18 characters and "SHOP-yangju-m-0000…" would make two shops
    one there."""
    return f"SHOP-{house_number(city, merchant)}"


def seed(service: SettlementService, client: MockBankClient, city: str, name: str, now: int) -> int:
    """Set up the demo's bank side; returns how many shops got a payout account."""
    state = service.ledgers.sequencer(city).state
    supply = state.totals.minted - state.totals.burned
    trust = trust_party(city, name)
    ensure_trust_account(client, city, trust.account, trust.bank, trust.name, supply)
    made = 0
    for merchant in sorted(state.merchants.values(), key=lambda m: m.id):
        if merchant.status != MERCHANT_ACTIVE or merchant.payout_account:
            continue
        party = shop_party(city, merchant.id)
        account_id = shop_account_id(city, merchant.id)
        if client.account(account_id) is None:
            client.create_account(account_id, party)
        service.register_account(city, merchant.id, party, now)
        made += 1
    return made

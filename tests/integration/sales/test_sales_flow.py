"""Sales end to end over real sockets: the server, and the simulated bank in its own
process. An order goes to the ledger, the bank opens its virtual account, a transfer
there sends a signed deposit notice, and the ledger books the purchased lot and its
discount lot. On SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from localpay.adapters.bank.http import HttpBank
from localpay.domain import commands as c
from localpay.ledger.signatures import sign_command
from localpay.services.cities.ledgers import new_id
from localpay.services.sales import notices
from localpay.services.sales.ports import BankUnavailable, DepositNotice
from localpay.sim.bank.ledger import account_number
from localpay.testing.bank import SALE, SaleSite, order, post, sale_site, signed, wallet_key
from localpay.testing.servers import World, seeded_store

CITY = "gimpo"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SaleSite]:
    folder = tmp_path_factory.mktemp("sales")
    url = seeded_store(request, folder)
    with sale_site(url, folder / "keys", folder) as found:
        yield found


def session(site: SaleSite, wallet: str) -> httpx.Client:
    token = World(site.base, site.keys).citizen(CITY, wallet)
    return httpx.Client(
        base_url=site.base, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def ordered(site: SaleSite, wallet: str, amount: int) -> dict[str, Any]:
    answer = post(site.base, f"/v1/cities/{CITY}/sales/orders", order(site.keys, wallet, amount))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def purchase_of(site: SaleSite, wallet: str, purchase: str) -> dict[str, Any]:
    with session(site, wallet) as client:
        items = client.get(f"/v1/cities/{CITY}/wallets/{wallet}/purchases").json()["items"]
    return next(p for p in items if p["id"] == purchase)


def wait_paid(site: SaleSite, wallet: str, purchase: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        found = purchase_of(site, wallet, purchase)
        if found["status"] == "paid":
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.1)


def lots(site: SaleSite, wallet: str) -> dict[str, int]:
    state = site.container.ledgers.sequencer(CITY).state
    return {lot.id: lot.amount for lot in state.wallets[wallet].lots if lot.program == SALE}


def pay_at_bank(site: SaleSite, account: str, amount: int) -> httpx.Response:
    return httpx.post(f"{site.bank}/transfers", json={"account": account, "amount": amount})


def test_order_then_transfer_books_the_purchase_and_its_discount(site: SaleSite) -> None:
    answer = ordered(site, "w-0000002", 100_000)
    assert answer["discount"] == 10_000 and answer["deposit"]["amount"] == 100_000
    account = answer["deposit"]["account"]
    assert account == account_number(CITY, answer["id"])
    assert lots(site, "w-0000002") == {}  # nothing moved before the won came
    assert pay_at_bank(site, account, 100_000).status_code == 201
    paid = wait_paid(site, "w-0000002", answer["id"])
    assert paid["left"] == 110_000 and paid["cancellable_until_ms"] is not None
    assert lots(site, "w-0000002") == {answer["id"]: 100_000, f"{answer['id']}.d": 10_000}


def test_a_repeated_order_gets_the_same_virtual_account(site: SaleSite) -> None:
    envelope = order(site.keys, "w-0000003", 50_000)
    first = post(site.base, f"/v1/cities/{CITY}/sales/orders", envelope)
    again = post(site.base, f"/v1/cities/{CITY}/sales/orders", envelope)
    assert first.status_code == again.status_code == 201
    assert first.json()["deposit"] == again.json()["deposit"]
    assert again.json()["duplicate"] is True


def notice_for(account: str, amount: int, notice: str) -> bytes:
    return notices.encoded(DepositNotice(notice, account, amount, "ref-" + notice, 1))


def secret_of(site: SaleSite) -> bytes:
    return site.container.sales.secret


def test_a_repeated_notice_gets_the_same_receipt_and_moves_nothing(site: SaleSite) -> None:
    answer = ordered(site, "w-0000004", 100_000)
    body = notice_for(answer["deposit"]["account"], 100_000, "n-repeat-" + answer["id"][:8])
    headers = {notices.SIGNATURE_HEADER: notices.signature(secret_of(site), body)}
    first = post(site.base, "/v1/bank/deposits", body, headers)
    assert first.status_code == 200 and first.json()["code"] == "ok", first.text
    held = lots(site, "w-0000004")
    second = post(site.base, "/v1/bank/deposits", body, headers)  # a new Idempotency-Key
    assert second.status_code == 200, second.text
    assert second.json()["id"] == first.json()["id"] and second.json()["duplicate"] is True
    assert lots(site, "w-0000004") == held == {answer["id"]: 100_000, f"{answer['id']}.d": 10_000}


def test_a_notice_with_a_bad_signature_is_refused_and_changes_nothing(site: SaleSite) -> None:
    answer = ordered(site, "w-0000005", 100_000)
    body = notice_for(answer["deposit"]["account"], 100_000, "n-forged-" + answer["id"][:8])
    forged = {notices.SIGNATURE_HEADER: notices.signature(b"not the bank's secret", body)}
    refused = post(site.base, "/v1/bank/deposits", body, forged)
    assert refused.status_code == 401 and refused.json()["code"] == "bank_signature_invalid"
    unsigned = post(site.base, "/v1/bank/deposits", body)
    assert unsigned.status_code == 401
    assert purchase_of(site, "w-0000005", answer["id"])["status"] == "ordered"
    assert lots(site, "w-0000005") == {}
    assert site.container.sales.repo.notices(CITY, 1000) == [
        n
        for n in site.container.sales.repo.notices(CITY, 1000)
        if not n.notice.startswith("n-forged")
    ]


def test_a_refusal_names_the_limit_and_the_room_and_opens_no_account(site: SaleSite) -> None:
    envelope = order(site.keys, "w-0000006", 700_001)
    answer = post(site.base, f"/v1/cities/{CITY}/sales/orders", envelope)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "purchase_limit_exceeded"
    assert (problem["limit"], problem["room"]) == (700_000, 700_000)
    order_id = problem["receipt"]["id"]
    assert site.container.sales.repo.order(CITY, order_id) is None
    assert httpx.get(f"{site.bank}/accounts/{account_number(CITY, order_id)}").status_code == 404
    assert lots(site, "w-0000006") == {}


def test_cancel_and_refund_make_pending_payouts(site: SaleSite) -> None:
    wallet = "w-0000007"
    first = ordered(site, wallet, 100_000)
    assert pay_at_bank(site, first["deposit"]["account"], 100_000).status_code == 201
    wait_paid(site, wallet, first["id"])
    cancel = c.CancelPurchase(id=new_id(), city=CITY, wallet=wallet, purchase=first["id"])
    done = post(
        site.base, f"/v1/cities/{CITY}/sales/cancellations", signed(site.keys, cancel, wallet)
    )
    assert done.status_code == 201, done.text
    with session(site, wallet) as client:
        payouts = client.get(f"/v1/cities/{CITY}/wallets/{wallet}/payouts").json()["items"]
    assert [(p["id"], p["amount"], p["reason"]) for p in payouts] == [
        (first["id"], 100_000, "cancelled")
    ]
    assert lots(site, wallet) == {}


def test_a_balance_refund_from_sixty_percent_used(site: SaleSite) -> None:
    wallet = "w-0000008"
    bought = ordered(site, wallet, 100_000)
    assert pay_at_bank(site, bought["deposit"]["account"], 100_000).status_code == 201
    wait_paid(site, wallet, bought["id"])
    refund = c.RefundBalance(id=new_id(), city=CITY, wallet=wallet, purchase=bought["id"])
    early = post(site.base, f"/v1/cities/{CITY}/sales/refunds", signed(site.keys, refund, wallet))
    assert early.status_code == 409 and early.json()["code"] == "refund_threshold_not_met"
    spend_from_purchase(site, wallet, bought["id"], 66_000)  # 60 % of 110,000
    refund = c.RefundBalance(id=new_id(), city=CITY, wallet=wallet, purchase=bought["id"])
    done = post(site.base, f"/v1/cities/{CITY}/sales/refunds", signed(site.keys, refund, wallet))
    assert done.status_code == 201, done.text
    with session(site, wallet) as client:
        payouts = client.get(f"/v1/cities/{CITY}/wallets/{wallet}/payouts").json()["items"]
    # 44,000 left, less the 10,000 discount received: 34,000 won back.
    assert [(p["amount"], p["reason"]) for p in payouts] == [(34_000, "balance_refund")]


def spend_from_purchase(site: SaleSite, wallet: str, purchase: str, amount: int) -> None:
    """Spend `amount` of the purchase's lots: the wallet's other programs' money is first
    given away to a fresh wallet, so the payment can only draw on the purchase."""
    state = site.container.ledgers.sequencer(CITY).state
    others = sum(lot.amount for lot in state.wallets[wallet].lots if lot.program != SALE)
    assert others == 0, "the test wallet holds other money"
    pay = c.Pay(
        id=new_id(), city=CITY, wallet=wallet, merchant="m-00000", amount=amount, evidence=""
    )
    answer = post(
        site.base, f"/v1/cities/{CITY}/payments", sign_command(pay, [wallet_key(site.keys, wallet)])
    )
    assert answer.status_code == 201, answer.text


def test_the_generic_routes_refuse_an_order(site: SaleSite) -> None:
    envelope = order(site.keys, "w-0000009", 10_000)
    for path in ("payments", "transfers", "credits"):
        answer = post(site.base, f"/v1/cities/{CITY}/{path}", envelope)
        assert answer.status_code == 422 and answer.json()["code"] == "wrong_command_type"
    generic = post(site.base, f"/v1/cities/{CITY}/commands", envelope)
    assert generic.status_code in (404, 405)
    assert (
        site.container.ledgers.sequencer(CITY).state.purchases.get(
            c.decode_envelope(envelope)[1].id
        )
        is None
    )


def test_a_wallets_sales_figures_are_its_own(site: SaleSite) -> None:
    # Its own order, not another test's: tests of this module may run in another worker.
    # 9 won earn no discount (10 % rounds down to 0): the module's small budget is left
    # whole for the live-budget test.
    ordered(site, "w-0000000", 9)  # an order takes its room at once
    with session(site, "w-0000000") as client:
        own = client.get(f"/v1/cities/{CITY}/wallets/w-0000000/sale-room", params={"program": SALE})
        other = client.get(f"/v1/cities/{CITY}/wallets/w-0000003/purchases")
    assert own.status_code == 200 and own.json()["monthly_room"] == 700_000 - 9
    assert other.status_code == 404
    anonymous = httpx.get(f"{site.base}/v1/cities/{CITY}/wallets/w-0000000/purchases")
    assert anonymous.status_code == 401


def test_sales_list_and_live_budget(site: SaleSite) -> None:
    listed = httpx.get(f"{site.base}/v1/cities/{CITY}/sales").json()["items"]
    sale = next(p for p in listed if p["program"] == SALE)
    assert sale["rate_bp"] == 1000 and sale["monthly_limit"] == 700_000
    with httpx.stream(
        "GET", f"{site.base}/v1/cities/{CITY}/sales/{SALE}/budget/events", timeout=30
    ) as stream:
        lines = stream.iter_lines()
        first = next_budget(lines)
        ordered(site, "w-0000010", 100_000)
        second = next_budget(lines)
    assert second["budget"] == first["budget"] - 10_000
    assert second["reserved"] == first["reserved"] + 10_000


def next_budget(lines: Iterator[str]) -> dict[str, Any]:
    for line in lines:
        if line.startswith("data:"):
            return dict(json.loads(line.removeprefix("data:").strip()))
    raise AssertionError("the stream ended")


def run_cli(site: SaleSite, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "localpay.entrypoints.cli", "--db", site.container.url]
    return subprocess.run(
        [*argv, "--keys", str(site.keys), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_cli_shows_budgets_and_orders(site: SaleSite) -> None:
    placed = ordered(site, "w-0000011", 20_000)
    status = run_cli(site, "sale", "status", "--city", CITY)
    assert status.returncode == 0, status.stderr
    line = next(row for row in status.stdout.splitlines() if row.startswith(SALE))
    budget = site.container.ledgers.sequencer(CITY).state.programs[SALE].budget
    assert f"{budget:,}" in line
    orders = run_cli(site, "sale", "orders", "--city", CITY)
    assert orders.returncode == 0 and placed["id"] in orders.stdout
    assert placed["deposit"]["account"] in orders.stdout
    nowhere = run_cli(site, "sale", "status", "--city", "nowhere")
    assert nowhere.returncode == 1 and "does not exist" in nowhere.stderr


def test_an_order_during_an_opening_needs_an_admitted_ticket(site: SaleSite) -> None:
    sales = site.container.sales
    before = sales.admission
    sales.admission = lambda city, program, ticket: ticket == "admitted-ticket"
    try:
        envelope = order(site.keys, "w-0000011", 10_000)
        refused = post(site.base, f"/v1/cities/{CITY}/sales/orders", envelope)
        assert refused.status_code == 409 and refused.json()["code"] == "queue_required"
        state = site.container.ledgers.sequencer(CITY).state
        assert c.decode_envelope(envelope)[1].id not in state.purchases  # nothing ordered
        admitted = post(
            site.base,
            f"/v1/cities/{CITY}/sales/orders",
            envelope,
            {"X-Queue-Ticket": "admitted-ticket"},
        )
        assert admitted.status_code == 201, admitted.text
    finally:
        sales.admission = before


def test_a_budget_stream_of_no_sale_is_a_404_problem_not_a_stream(site: SaleSite) -> None:
    for program in ("youth", "no-such-program"):
        answer = httpx.get(f"{site.base}/v1/cities/{CITY}/sales/{program}/budget/events")
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
    other_city = httpx.get(f"{site.base}/v1/cities/nowhere/sales/{SALE}/budget/events")
    assert other_city.status_code == 404


def test_a_debit_of_a_linked_account_books_the_order_too(site: SaleSite) -> None:
    wallet = "w-0000009"
    placed = ordered(site, wallet, 30_000)
    bank = HttpBank(site.bank, site.container.sales.secret)
    try:
        debit = bank.request_debit(CITY, placed["id"], "110-123-456789", 30_000)
    finally:
        bank.close()
    assert debit.account == placed["deposit"]["account"] and debit.amount == 30_000
    wait_paid(site, wallet, placed["id"])
    forged = HttpBank(site.bank, b"someone else's secret")
    with pytest.raises(BankUnavailable):
        forged.open_deposit(CITY, "f" * 32, 10_000, 1)
    forged.close()

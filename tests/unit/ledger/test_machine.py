"""The ledger state machine, command by command: `machine.apply` on a CityState, no store.

Every command goes through `City.run`, which also checks, after each step, that supply
equals minted - burned, that a rejected command changed nothing, and that an accepted
one reported every entity it changed (the sequencer persists only those).
"""

from __future__ import annotations

import msgspec
import nacl.signing
import pytest

from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.domain.limits import AMOUNT_MAX, REVENUE_MAX, VALID_DAYS_MAX
from localpay.domain.policy import lot_expiry_ms
from localpay.ledger import machine, spending
from localpay.ledger.results import Result
from localpay.ledger.signatures import public_key_hex, sign_command, verify_one
from localpay.ledger.state import Lot
from localpay.testing.machine_city import (
    CHECKER,
    CITY,
    FIVE_YEARS,
    LENIENT,
    MAKER,
    OPERATOR,
    OUTSIDER,
    T0,
    City,
    genesis,
    kst_ms,
    on_new_city,
    policy,
    signing_key,
    snapshot,
)


@pytest.fixture
def city() -> City:
    return City()


@pytest.fixture
def shop(city: City) -> City:
    """A city with one general program, a wallet 'alice' and an active bakery 'bakery'."""
    city.program("general")
    city.wallet("alice")
    city.merchant("bakery")
    return city


# -- genesis -------------------------------------------------------------------------------


def test_any_command_before_genesis_is_city_not_found() -> None:
    opening = c.OpenWallet(
        id="2" * 32, city=CITY, wallet="alice", keys=[public_key_hex(MAKER)], custodial=False
    )
    code, state = on_new_city(opening, MAKER)
    assert (code, state.wallets) == (Code.CITY_NOT_FOUND, {})


def test_a_genesis_signed_by_its_operator_key_founds_the_city() -> None:
    code, state = on_new_city(genesis((MAKER, CHECKER)), OPERATOR)
    assert code == Code.OK
    assert state.genesis == genesis((MAKER, CHECKER))
    assert state.authorities.officials == {
        public_key_hex(MAKER): "o0",
        public_key_hex(CHECKER): "o1",
    }


def test_a_second_genesis_is_city_exists(city: City) -> None:
    again = msgspec.structs.replace(genesis(), id=city.new_id())
    assert city.code(again, OPERATOR) == Code.CITY_EXISTS


def test_genesis_must_be_signed_by_the_operator_key_it_names() -> None:
    code, state = on_new_city(genesis(), MAKER)
    assert (code, state.genesis) == (Code.SIGNER_NOT_AUTHORIZED, None)


@pytest.mark.parametrize(
    "command",
    [genesis(days=0), genesis(days=-1), genesis(approvals={"mint": 0})],
    ids=["zero-days", "negative-days", "zero-approvals"],
)
def test_genesis_without_default_validity_or_with_a_zero_approval_rule_is_invalid_policy(
    command: c.CreateCity,
) -> None:
    code, state = on_new_city(command, OPERATOR)
    assert (code, state.genesis) == (Code.INVALID_POLICY, None)


def test_genesis_needing_more_officials_than_it_names_is_invalid_policy() -> None:
    code, _ = on_new_city(genesis((MAKER, CHECKER), {"define_program": 3}), OPERATOR)
    assert code == Code.INVALID_POLICY


# -- officials and maker-checker -----------------------------------------------------------


def test_define_program_with_one_official_signature_is_approvals_missing(city: City) -> None:
    command = city.define("general", policy())
    assert city.code(command, MAKER) == Code.APPROVALS_MISSING
    assert city.code(command, CHECKER, OPERATOR, OUTSIDER) == Code.APPROVALS_MISSING


def test_define_program_with_two_distinct_officials_is_ok(city: City) -> None:
    command = city.define("general", policy())
    assert city.code(command, MAKER, CHECKER) == Code.OK
    assert city.state.programs["general"].versions == [policy()]


def test_define_program_signed_by_non_officials_is_refused(city: City) -> None:
    command = city.define("general", policy())
    assert city.code(command, OPERATOR) == Code.SIGNER_NOT_AUTHORIZED
    # A stranger's key: refused, and not even recorded (see unknown_signer below).
    assert city.code(command, OUTSIDER) == Code.UNKNOWN_SIGNER


def test_suspend_merchant_needs_two_distinct_officials(shop: City) -> None:
    suspend = shop.suspend("bakery")
    assert shop.code(suspend, OUTSIDER) == Code.UNKNOWN_SIGNER
    assert shop.code(suspend, shop.keys["bakery"]) == Code.SIGNER_NOT_AUTHORIZED
    assert shop.code(suspend, MAKER) == Code.APPROVALS_MISSING
    assert shop.code(suspend, MAKER, CHECKER) == Code.OK
    assert shop.state.merchants["bakery"].status == "suspended"


MONEY_AND_MERCHANT_COMMANDS = ["mint", "credit", "register_merchant", "approve_merchant"]


@pytest.mark.parametrize("kind", MONEY_AND_MERCHANT_COMMANDS)
def test_by_default_money_and_merchant_commands_need_two_distinct_officials(kind: str) -> None:
    city = City()
    city.program("general")
    city.wallet("alice")
    assert city.official(city.register("bakery", signing_key(60))) == Code.OK
    command = {
        "mint": city.mint("general", 1_000),
        "credit": city.credit_cmd("alice", "general", 1_000),
        "register_merchant": city.register("pharmacy", signing_key(61)),
        "approve_merchant": city.approve("bakery"),
    }[kind]
    assert city.code(command, MAKER) == Code.APPROVALS_MISSING
    assert city.code(command, CHECKER, OPERATOR) == Code.APPROVALS_MISSING
    assert city.code(command, MAKER, CHECKER) == Code.OK


def test_one_official_signing_twice_is_still_one_official(city: City) -> None:
    """Maker is never checker: two signatures by the same key count once."""
    city.program("general", budget=0)
    envelope, command = c.decode_envelope(sign_command(city.mint("general", 1_000), [MAKER, MAKER]))
    assert len(envelope.sigs) == 2
    signers = verify_one(bytes(envelope.body), envelope.sigs)
    assert signers == frozenset({public_key_hex(MAKER)})
    result, _ = machine.apply(city.state, command, signers, city.now)
    assert result.code == Code.APPROVALS_MISSING
    assert city.state.programs["general"].budget == 0


def test_a_city_may_relax_rules_to_one_official_but_never_for_minting() -> None:
    city = City(approvals=LENIENT)
    city.program("general")
    city.wallet("alice")
    assert city.code(city.credit_cmd("alice", "general", 1_000), CHECKER) == Code.OK
    assert city.code(city.mint("general", 1_000), CHECKER) == Code.APPROVALS_MISSING
    assert city.code(city.mint("general", 1_000), OPERATOR) == Code.SIGNER_NOT_AUTHORIZED


@pytest.mark.parametrize(
    "approvals",
    [{"mint": 1}, LENIENT | {"mint": 1}],
    ids=["mint-one", "everything-one"],
)
def test_a_genesis_letting_one_official_mint_is_invalid_policy(approvals: dict[str, int]) -> None:
    code, state = on_new_city(genesis((MAKER, CHECKER), approvals), OPERATOR)
    assert (code, state.genesis) == (Code.INVALID_POLICY, None)


def test_a_genesis_naming_an_unknown_action_is_invalid_policy() -> None:
    # A misspelt rule ("mints") would otherwise silently leave the default in force.
    code, _ = on_new_city(genesis((MAKER, CHECKER), {"mints": 2}), OPERATOR)
    assert code == Code.INVALID_POLICY


def test_a_genesis_needing_more_officials_than_one_command_can_carry_is_invalid_policy() -> None:
    officials = tuple(signing_key(n) for n in range(30, 36))
    code, _ = on_new_city(genesis(officials, {"mint": c.SIGNATURES_MAX + 1}), OPERATOR)
    assert code == Code.INVALID_POLICY
    code, _ = on_new_city(genesis(officials, {"mint": c.SIGNATURES_MAX}), OPERATOR)
    assert code == Code.OK


def test_reinstating_a_merchant_needs_as_many_officials_as_suspending_it() -> None:
    # Approval is also reinstatement, so a genesis may not make it easier than suspension.
    easier = LENIENT | {"suspend_merchant": 2, "approve_merchant": 1}
    code, _ = on_new_city(genesis((MAKER, CHECKER), easier), OPERATOR)
    assert code == Code.INVALID_POLICY
    city = City(approvals=LENIENT | {"suspend_merchant": 2, "approve_merchant": 2})
    city.program("general")
    city.merchant("bakery")
    assert city.official(city.suspend("bakery")) == Code.OK
    assert city.code(city.approve("bakery"), MAKER) == Code.APPROVALS_MISSING
    assert city.code(city.approve("bakery"), MAKER, CHECKER) == Code.OK
    assert city.state.merchants["bakery"].status == "active"


def test_an_appointed_official_can_sign_and_a_revoked_one_cannot() -> None:
    city = City(approvals=LENIENT)
    newcomer = signing_key(99)
    assert city.code(city.appoint(newcomer), MAKER) == Code.OK
    assert city.state.authorities.officials[public_key_hex(newcomer)] == "aud"
    assert city.code(city.define("general", policy()), newcomer) == Code.OK
    assert city.code(city.appoint(newcomer, active=False), MAKER) == Code.OK
    assert city.code(city.define("general", policy()), newcomer) == Code.UNKNOWN_SIGNER


def test_revoking_an_unknown_official_is_account_not_found(city: City) -> None:
    assert city.official(city.appoint(OUTSIDER, active=False)) == Code.ACCOUNT_NOT_FOUND


def test_revoking_below_the_largest_approval_rule_is_invalid_policy(city: City) -> None:
    # Two officials, every action needs two: revoking either would leave the city stuck.
    assert city.official(city.appoint(CHECKER, active=False)) == Code.INVALID_POLICY


@pytest.mark.parametrize(
    ("names", "quorum"),
    [(["a", "b"], 3), (["a", "b"], -1), (["a", "b"], 0), (["a", "a-twin"], 1)],
    ids=["quorum-above-count", "negative-quorum", "zero-quorum", "duplicate-key"],
)
def test_inconsistent_witness_sets_are_invalid_policy(
    city: City, names: list[str], quorum: int
) -> None:
    keys = [public_key_hex(signing_key(50)), public_key_hex(signing_key(51))]
    if names[1] == "a-twin":
        keys[1] = keys[0]
    witnesses = [c.Witness(name=n, key=k) for n, k in zip(names, keys, strict=True)]
    command = c.SetWitnesses(id=city.new_id(), city=CITY, witnesses=witnesses, quorum=quorum)
    assert city.official(command) == Code.INVALID_POLICY


def test_witnesses_and_quorum_are_recorded(city: City) -> None:
    witness = c.Witness(name="gimpo-university", key=public_key_hex(signing_key(50)))
    command = c.SetWitnesses(id=city.new_id(), city=CITY, witnesses=[witness], quorum=1)
    assert city.code(command, OUTSIDER) == Code.UNKNOWN_SIGNER
    assert city.official(command) == Code.OK
    assert city.state.authorities.witnesses == {witness.key: "gimpo-university"}
    assert city.state.authorities.quorum == 1


# -- who may put a rejection on the chain ---------------------------------------------------


def test_a_rejection_signed_only_by_strangers_is_unknown_signer_and_not_recorded(
    shop: City,
) -> None:
    shop.credit("alice", "general", 10_000)
    shop.wallet("bob")
    payment = shop.paid("alice", "bakery", 1_000)
    stranger = signing_key(90)
    junk: list[c.Command] = [
        shop.pay_cmd("alice", "bakery", 1),  # someone else's wallet
        shop.pay_cmd("nobody", "bakery", 1),  # no such wallet
        shop.transfer_cmd("alice", "bob", 1),
        shop.refund_cmd("bakery", payment, 1),
        shop.redeem_cmd("bakery", 1),
        shop.mint("general", 1),
        shop.suspend("bakery"),
        c.Expire(id=shop.new_id(), city=CITY, wallet="alice"),
        shop.opening("alice", stranger),  # the id is taken: junk with a fresh key
        shop.opening("carol", OUTSIDER),  # a new wallet not signed by its own key
        msgspec.structs.replace(genesis(), id=shop.new_id()),
    ]
    for command in junk:
        assert shop.code(command, stranger) == Code.UNKNOWN_SIGNER, type(command).__name__
        assert not Code.UNKNOWN_SIGNER.recorded


def test_a_rejection_signed_by_a_key_the_chain_knows_is_recorded(shop: City) -> None:
    shop.credit("alice", "general", 10_000)
    # The account's own key, an official, the operator, a named counterparty's key.
    assert shop.pay("alice", "bakery", 10_001).code == Code.INSUFFICIENT_FUNDS
    assert shop.code(shop.pay_cmd("alice", "bakery", 1), MAKER) == Code.SIGNER_NOT_AUTHORIZED
    assert shop.code(shop.mint("general", 1), OPERATOR) == Code.SIGNER_NOT_AUTHORIZED
    by_merchant = shop.pay_cmd("alice", "bakery", 1)
    assert shop.code(by_merchant, shop.keys["bakery"]) == Code.SIGNER_NOT_AUTHORIZED
    again = shop.opening("alice", shop.keys["alice"])
    assert shop.code(again, shop.keys["alice"]) == Code.ACCOUNT_EXISTS
    assert all(Code(code).recorded for code in ("insufficient_funds", "account_exists"))


def test_opening_a_new_wallet_with_its_own_new_key_is_ok_though_the_key_is_new(
    city: City,
) -> None:
    fresh = signing_key(91)
    assert city.code(city.opening("carol", fresh), fresh) == Code.OK


# -- accounts ------------------------------------------------------------------------------


def test_open_wallet_must_be_signed_by_one_of_its_own_keys(city: City) -> None:
    own, other = signing_key(70), signing_key(71)
    opening = city.opening("alice", other, own)
    assert city.code(opening, MAKER, CHECKER, OPERATOR) == Code.SIGNER_NOT_AUTHORIZED
    assert city.code(opening, own) == Code.OK
    assert city.state.wallets["alice"].keys == [public_key_hex(other), public_key_hex(own)]


def test_a_wallet_id_taken_by_a_wallet_or_a_merchant_is_account_exists(shop: City) -> None:
    for taken in ("alice", "bakery"):
        key = shop.keys[taken]  # its holder, retrying: a key the chain knows
        assert shop.code(shop.opening(taken, key), key) == Code.ACCOUNT_EXISTS


def test_a_merchant_id_taken_by_a_wallet_or_a_merchant_is_account_exists(shop: City) -> None:
    for taken in ("alice", "bakery"):
        assert shop.official(shop.register(taken, signing_key(73))) == Code.ACCOUNT_EXISTS


def test_a_negative_annual_revenue_is_invalid_amount(city: City) -> None:
    negative = city.register("bakery", signing_key(74), revenue=-1)
    assert city.official(negative) == Code.INVALID_AMOUNT


def test_a_registered_merchant_is_pending_until_approved(city: City) -> None:
    assert city.official(city.register("bakery", signing_key(75))) == Code.OK
    assert city.state.merchants["bakery"].status == "pending"
    assert city.official(city.approve("bakery")) == Code.OK
    assert city.state.merchants["bakery"].status == "active"


def test_approving_an_active_merchant_is_merchant_status_unchanged(shop: City) -> None:
    assert shop.official(shop.approve("bakery")) == Code.MERCHANT_STATUS_UNCHANGED


def test_approving_an_unknown_merchant_is_account_not_found(city: City) -> None:
    assert city.official(city.approve("nobody")) == Code.ACCOUNT_NOT_FOUND


# -- programs and issuance -----------------------------------------------------------------


def test_an_inconsistent_policy_is_invalid_policy(city: City) -> None:
    bad = policy(daily_cap=10, monthly_cap=5)
    assert city.official(city.define("general", bad)) == Code.INVALID_POLICY


def test_redefining_a_program_adds_a_version(city: City) -> None:
    city.program("general", budget=0)
    newer = policy(name="v2", per_payment_cap=5)
    assert city.official(city.define("general", newer)) == Code.OK
    assert city.state.programs["general"].versions == [policy(), newer]


def test_mint_fills_the_program_budget_and_counts_as_minted(city: City) -> None:
    city.program("general", budget=0)
    result = city.run(city.mint("general", 700), MAKER, CHECKER)
    assert (result.code, result.balance) == (Code.OK, 700)
    general = city.state.programs["general"]
    assert (general.budget, general.minted) == (700, 700)
    assert city.state.totals.minted == 700


def test_mint_into_an_unknown_program_is_program_not_found(city: City) -> None:
    assert city.official(city.mint("nothing", 1)) == Code.PROGRAM_NOT_FOUND


def test_credit_moves_budget_into_a_new_lot_of_the_latest_version(shop: City) -> None:
    result = shop.run(shop.credit_cmd("alice", "general", 30_000, lot="a" * 32), MAKER, CHECKER)
    assert result == Result(code="ok", lots=[("a" * 32, 30_000)], balance=30_000)
    expiry = lot_expiry_ms(policy(), T0, FIVE_YEARS)
    assert shop.state.wallets["alice"].lots == [
        Lot("a" * 32, "general", 1, 30_000, expiry, "purchase", T0)
    ]
    assert shop.state.programs["general"].budget == 10_000_000 - 30_000
    assert shop.state.programs["general"].credited == 30_000


def test_credit_to_an_unknown_wallet_is_account_not_found(shop: City) -> None:
    assert shop.official(shop.credit_cmd("nobody", "general", 1)) == Code.ACCOUNT_NOT_FOUND


def test_credit_of_an_unknown_program_is_program_not_found(shop: City) -> None:
    assert shop.official(shop.credit_cmd("alice", "nothing", 1)) == Code.PROGRAM_NOT_FOUND


def test_credit_beyond_the_program_budget_is_insufficient_funds(city: City) -> None:
    city.program("general", budget=100)
    city.wallet("alice")
    assert city.official(city.credit_cmd("alice", "general", 101)) == Code.INSUFFICIENT_FUNDS
    assert city.official(city.credit_cmd("alice", "general", 100)) == Code.OK


def test_credit_of_a_program_past_its_end_date_is_program_expired(city: City) -> None:
    city.program("spring", valid_until="2026-05-28")
    city.wallet("alice")
    assert city.official(city.credit_cmd("alice", "spring", 1)) == Code.PROGRAM_EXPIRED


def test_credit_on_the_last_korean_day_of_a_program_is_still_ok(city: City) -> None:
    city.program("spring", valid_until="2026-05-29")
    city.wallet("alice")
    city.now = kst_ms(2026, 5, 29, 23, 59, 59) + 999
    assert city.official(city.credit_cmd("alice", "spring", 1)) == Code.OK
    city.now += 1
    assert city.official(city.credit_cmd("alice", "spring", 1)) == Code.PROGRAM_EXPIRED


def test_credit_above_the_holding_cap_is_holding_limit_exceeded(city: City) -> None:
    city.program("general", holding_cap=50_000)
    city.wallet("alice")
    city.credit("alice", "general", 40_000)
    assert city.official(city.credit_cmd("alice", "general", 10_001)) == Code.HOLDING_LIMIT_EXCEEDED
    assert city.official(city.credit_cmd("alice", "general", 10_000)) == Code.OK


# -- paying --------------------------------------------------------------------------------


def test_payment_draws_the_soonest_expiring_lots_first(city: City) -> None:
    city.program("general")
    city.program("youth", valid_days=90)
    city.program("welfare", valid_days=30)
    city.wallet("alice")
    city.merchant("bakery")
    general = city.credit("alice", "general", 10_000)
    youth = city.credit("alice", "youth", 10_000)
    welfare = city.credit("alice", "welfare", 10_000)
    result = city.pay("alice", "bakery", 25_000)
    assert result.lots == [(welfare, 10_000), (youth, 10_000), (general, 5_000)]
    assert result.balance == 5_000


def test_payment_draws_lots_with_the_same_expiry_by_lot_id(shop: City) -> None:
    later = shop.credit("alice", "general", 1_000, lot="b" * 32)
    earlier = shop.credit("alice", "general", 1_000, lot="a" * 32)
    assert shop.pay("alice", "bakery", 1_500).lots == [(earlier, 1_000), (later, 500)]


def test_payment_result_and_balances(shop: City) -> None:
    lot = shop.credit("alice", "general", 30_000)
    command = shop.pay_cmd("alice", "bakery", 17_000)
    result = shop.run(command, shop.keys["alice"])
    assert result == Result(code="ok", lots=[(lot, 17_000)], balance=13_000)
    assert shop.state.merchants["bakery"].balance == 17_000
    payment = shop.state.payments[command.id]
    assert (payment.wallet, payment.merchant, payment.amount) == ("alice", "bakery", 17_000)
    assert (payment.refunded, payment.at_ms) == (0, T0)


def test_a_fully_spent_lot_leaves_the_wallet(shop: City) -> None:
    shop.credit("alice", "general", 1_000)
    kept = shop.credit("alice", "general", 1_000)
    shop.paid("alice", "bakery", 1_000)
    assert shop.lots("alice") == [(kept, 1_000)]


@pytest.fixture
def youth_and_general(city: City) -> City:
    """Youth dividend (expires sooner, not at department stores) and general money."""
    city.program("general")
    city.program("youth", valid_days=90, denied_categories=["department_store"])
    city.wallet("alice")
    city.merchant("hyundai", category="department_store")
    return city


def test_a_department_store_payment_skips_youth_lots(youth_and_general: City) -> None:
    city = youth_and_general
    youth = city.credit("alice", "youth", 50_000)
    general = city.credit("alice", "general", 30_000)
    assert city.pay("alice", "hyundai", 20_000).lots == [(general, 20_000)]
    assert city.lots("alice") == [(youth, 50_000), (general, 10_000)]


def test_category_denied_only_when_eligible_money_is_short(youth_and_general: City) -> None:
    city = youth_and_general
    city.credit("alice", "youth", 50_000)
    city.credit("alice", "general", 30_000)
    assert city.pay("alice", "hyundai", 30_001).code == Code.CATEGORY_DENIED
    assert city.pay("alice", "hyundai", 30_000).code == Code.OK


def test_insufficient_funds_when_the_wallet_total_is_short(youth_and_general: City) -> None:
    city = youth_and_general
    city.credit("alice", "youth", 50_000)
    city.credit("alice", "general", 30_000)
    assert city.pay("alice", "hyundai", 80_001).code == Code.INSUFFICIENT_FUNDS


def test_an_empty_wallet_is_insufficient_funds(shop: City) -> None:
    assert shop.pay("alice", "bakery", 1).code == Code.INSUFFICIENT_FUNDS


def test_area_and_revenue_rules_deny_like_categories(city: City) -> None:
    city.program("local", areas=["tongjin"])
    city.program("small", revenue_cap=10**8)
    city.wallet("alice")
    city.merchant("bakery", area="gurae", revenue=10**8 + 1)
    city.credit("alice", "small", 5)
    assert city.pay("alice", "bakery", 5).code == Code.REVENUE_CAP_EXCEEDED
    city.credit("alice", "local", 5)
    # Both rules blocked money: the one earlier in precedence is reported.
    assert city.pay("alice", "bakery", 5).code == Code.AREA_DENIED


def test_the_highest_precedence_denial_is_reported(city: City) -> None:
    city.program("local", areas=["tongjin"])
    city.program("no-stores", denied_categories=["bakery"], valid_days=10)
    city.wallet("alice")
    city.merchant("bakery")
    city.credit("alice", "local", 5)
    city.credit("alice", "no-stores", 5)
    assert city.pay("alice", "bakery", 6).code == Code.CATEGORY_DENIED


def test_expired_money_is_not_spent_and_is_reported_as_program_expired(city: City) -> None:
    city.program("general")
    city.program("welfare", valid_days=1)
    city.wallet("alice")
    city.merchant("bakery")
    welfare = city.credit("alice", "welfare", 5_000)
    general = city.credit("alice", "general", 1_000)
    city.now = kst_ms(2026, 5, 31)  # welfare money was valid through 2026-05-30
    assert city.pay("alice", "bakery", 1_000).lots == [(general, 1_000)]
    assert city.pay("alice", "bakery", 1_000).code == Code.PROGRAM_EXPIRED
    assert city.lots("alice") == [(welfare, 5_000)]


def test_money_is_spendable_until_the_last_millisecond_of_its_korean_end_date(city: City) -> None:
    city.program("year-end", valid_until="2026-12-31")
    city.wallet("alice")
    city.merchant("bakery")
    city.credit("alice", "year-end", 2)
    city.now = kst_ms(2026, 12, 31, 23, 59, 59) + 999
    assert city.pay("alice", "bakery", 1).code == Code.OK
    city.now = kst_ms(2027, 1, 1)
    assert city.pay("alice", "bakery", 1).code == Code.PROGRAM_EXPIRED


def test_above_the_per_payment_cap_is_per_payment_limit_exceeded(city: City) -> None:
    city.program("youth", per_payment_cap=20_000)
    city.wallet("alice")
    city.merchant("bakery")
    city.credit("alice", "youth", 50_000)
    assert city.pay("alice", "bakery", 20_001).code == Code.PER_PAYMENT_LIMIT_EXCEEDED
    assert city.pay("alice", "bakery", 20_000).code == Code.OK
    assert city.pay("alice", "bakery", 20_000).code == Code.OK


def test_a_capped_program_pays_its_part_and_other_money_the_rest(city: City) -> None:
    city.program("general")
    city.program("youth", per_payment_cap=20_000, valid_days=90)
    city.wallet("alice")
    city.merchant("bakery")
    youth = city.credit("alice", "youth", 50_000)
    general = city.credit("alice", "general", 50_000)
    assert city.pay("alice", "bakery", 30_000).lots == [(youth, 20_000), (general, 10_000)]


def test_the_daily_cap_binds_and_resets_at_the_next_kst_midnight(city: City) -> None:
    city.program("youth", daily_cap=30_000)
    city.wallet("alice")
    city.merchant("bakery")
    city.credit("alice", "youth", 100_000)
    assert city.pay("alice", "bakery", 20_000).code == Code.OK
    assert city.pay("alice", "bakery", 10_001).code == Code.DAILY_LIMIT_EXCEEDED
    city.now = kst_ms(2026, 5, 30) - 1  # 14:59:59.999 UTC: still the same Korean day
    assert city.pay("alice", "bakery", 10_001).code == Code.DAILY_LIMIT_EXCEEDED
    city.now += 1  # 15:00 UTC: a new Korean day
    assert city.pay("alice", "bakery", 30_000).code == Code.OK


def test_the_monthly_cap_binds_and_resets_on_the_first_of_the_korean_month(city: City) -> None:
    city.program("youth", monthly_cap=50_000)
    city.wallet("alice")
    city.merchant("bakery")
    city.credit("alice", "youth", 200_000)
    assert city.pay("alice", "bakery", 30_000).code == Code.OK
    city.now = kst_ms(2026, 5, 31, 23)
    assert city.pay("alice", "bakery", 20_001).code == Code.MONTHLY_LIMIT_EXCEEDED
    assert city.pay("alice", "bakery", 20_000).code == Code.OK
    city.now = kst_ms(2026, 6, 1)
    assert city.pay("alice", "bakery", 50_000).code == Code.OK


def test_the_binding_cap_is_reported_per_payment_before_daily_before_monthly(city: City) -> None:
    city.program("youth", per_payment_cap=10_000, daily_cap=10_000, monthly_cap=10_000)
    city.wallet("alice")
    city.merchant("bakery")
    city.credit("alice", "youth", 100_000)
    assert city.pay("alice", "bakery", 10_001).code == Code.PER_PAYMENT_LIMIT_EXCEEDED


def test_a_card_wallet_payment_without_evidence_is_evidence_missing(city: City) -> None:
    city.program("general")
    city.wallet("card-7", custodial=True)
    city.merchant("bakery")
    city.credit("card-7", "general", 10_000)
    assert city.pay("card-7", "bakery", 1_000).code == Code.EVIDENCE_MISSING
    assert city.pay("card-7", "bakery", 1_000, evidence="van:auth:123456").code == Code.OK


def test_a_self_custodied_wallet_needs_no_evidence(shop: City) -> None:
    shop.credit("alice", "general", 1_000)
    assert shop.pay("alice", "bakery", 1_000).code == Code.OK


def test_paying_a_suspended_merchant_is_merchant_not_active(shop: City) -> None:
    shop.credit("alice", "general", 10_000)
    assert shop.official(shop.suspend("bakery")) == Code.OK
    assert shop.pay("alice", "bakery", 1_000).code == Code.MERCHANT_NOT_ACTIVE
    assert shop.official(shop.approve("bakery")) == Code.OK  # reinstated
    assert shop.pay("alice", "bakery", 1_000).code == Code.OK


def test_paying_a_pending_merchant_is_merchant_not_active(shop: City) -> None:
    shop.credit("alice", "general", 10_000)
    shop.official(shop.register("newshop", signing_key(80)))
    assert shop.pay("alice", "newshop", 1_000).code == Code.MERCHANT_NOT_ACTIVE


def test_a_payment_signed_by_another_key_is_signer_not_authorized(shop: City) -> None:
    shop.credit("alice", "general", 10_000)
    command = shop.pay_cmd("alice", "bakery", 1_000)
    others = (MAKER, CHECKER, OPERATOR, shop.keys["bakery"])
    assert shop.code(command, *others) == Code.SIGNER_NOT_AUTHORIZED


def test_a_payment_from_or_to_an_unknown_account_is_account_not_found(shop: City) -> None:
    assert shop.code(shop.pay_cmd("nobody", "bakery", 1), MAKER) == Code.ACCOUNT_NOT_FOUND
    assert shop.pay("alice", "nobody", 1).code == Code.ACCOUNT_NOT_FOUND
    # A merchant is not a wallet: it cannot pay.
    by_merchant = shop.pay_cmd("bakery", "bakery", 1)
    assert shop.code(by_merchant, shop.keys["bakery"]) == Code.ACCOUNT_NOT_FOUND


def test_pay_reports_the_acting_wallet_before_its_signature_then_the_merchant(shop: City) -> None:
    # An unknown wallet cannot have its signature checked: account_not_found comes first.
    assert shop.code(shop.pay_cmd("nobody", "nobody-2", 0), MAKER) == Code.ACCOUNT_NOT_FOUND
    # A known wallet with another's signature: signer_not_authorized before the merchant.
    assert shop.code(shop.pay_cmd("alice", "nobody", 0), MAKER) == Code.SIGNER_NOT_AUTHORIZED
    assert shop.pay("alice", "nobody", 0).code == Code.ACCOUNT_NOT_FOUND


def test_pay_reports_invalid_amount_before_evidence_and_merchant_status(city: City) -> None:
    city.program("general")
    city.wallet("card-7", custodial=True)
    city.official(city.register("newshop", signing_key(81)))
    assert city.pay("card-7", "newshop", 0).code == Code.INVALID_AMOUNT
    assert city.pay("card-7", "newshop", 1).code == Code.EVIDENCE_MISSING
    assert city.pay("card-7", "newshop", 1, evidence="auth-1").code == Code.MERCHANT_NOT_ACTIVE


# -- refunds -------------------------------------------------------------------------------


@pytest.fixture
def two_lot_payment(shop: City) -> tuple[City, str, str, str]:
    """alice paid 15,000 from lot A (10,000, fully consumed) then lot B (5,000 of 20,000)."""
    a = shop.credit("alice", "general", 10_000, lot="a" * 32)
    b = shop.credit("alice", "general", 20_000, lot="b" * 32)
    payment = shop.paid("alice", "bakery", 15_000)
    assert shop.lots("alice") == [(b, 15_000)]
    return shop, payment, a, b


def test_a_full_refund_restores_the_exact_lots_including_a_consumed_one(
    two_lot_payment: tuple[City, str, str, str],
) -> None:
    city, payment, a, b = two_lot_payment
    result = city.refund("bakery", payment, 15_000)
    assert result == Result(code="ok", lots=[(b, 5_000), (a, 10_000)], balance=30_000)
    assert city.lots("alice") == [(a, 10_000), (b, 20_000)]
    expiry = lot_expiry_ms(policy(), T0, FIVE_YEARS)
    assert city.state.wallets["alice"].lots[0] == Lot(a, "general", 1, 10_000, expiry, "purchase")


def test_a_refund_returns_the_last_drawn_lot_first(
    two_lot_payment: tuple[City, str, str, str],
) -> None:
    city, payment, _a, b = two_lot_payment
    assert city.refund("bakery", payment, 4_000).lots == [(b, 4_000)]
    assert city.lots("alice") == [(b, 19_000)]


def test_partial_refunds_add_up_to_the_payment(two_lot_payment: tuple[City, str, str, str]) -> None:
    city, payment, a, b = two_lot_payment
    assert city.refund("bakery", payment, 4_000).lots == [(b, 4_000)]
    assert city.refund("bakery", payment, 3_000).lots == [(b, 1_000), (a, 2_000)]
    assert city.refund("bakery", payment, 8_000).lots == [(a, 8_000)]
    assert city.lots("alice") == [(a, 10_000), (b, 20_000)]
    assert city.state.payments[payment].refunded == 15_000
    assert city.state.merchants["bakery"].balance == 0


def test_a_refund_beyond_what_remains_of_the_payment_is_refund_exceeds_payment(
    two_lot_payment: tuple[City, str, str, str],
) -> None:
    city, payment, _a, _b = two_lot_payment
    assert city.refund("bakery", payment, 15_001).code == Code.REFUND_EXCEEDS_PAYMENT
    assert city.refund("bakery", payment, 10_000).code == Code.OK
    assert city.refund("bakery", payment, 5_001).code == Code.REFUND_EXCEEDS_PAYMENT
    assert city.refund("bakery", payment, 5_000).code == Code.OK
    assert city.refund("bakery", payment, 1).code == Code.REFUND_EXCEEDS_PAYMENT


def test_a_refund_by_another_merchant_is_payment_not_found(
    two_lot_payment: tuple[City, str, str, str],
) -> None:
    city, payment, _a, _b = two_lot_payment
    city.merchant("pharmacy", category="pharmacy")
    assert city.refund("pharmacy", payment, 1).code == Code.PAYMENT_NOT_FOUND


def test_a_refund_of_an_unknown_payment_is_payment_not_found(shop: City) -> None:
    assert shop.refund("bakery", "f" * 32, 1).code == Code.PAYMENT_NOT_FOUND


def test_a_refund_signed_by_someone_else_is_signer_not_authorized(
    two_lot_payment: tuple[City, str, str, str],
) -> None:
    city, payment, _a, _b = two_lot_payment
    command = city.refund_cmd("bakery", payment, 1)
    others = (city.keys["alice"], MAKER, CHECKER, OPERATOR)
    assert city.code(command, *others) == Code.SIGNER_NOT_AUTHORIZED


def test_a_refund_larger_than_the_merchant_balance_is_insufficient_funds(
    two_lot_payment: tuple[City, str, str, str],
) -> None:
    city, payment, _a, _b = two_lot_payment
    assert city.redeem("bakery", 14_000).code == Code.OK
    assert city.refund("bakery", payment, 1_001).code == Code.INSUFFICIENT_FUNDS
    assert city.refund("bakery", payment, 1_000).code == Code.OK


def test_a_same_day_refund_gives_back_daily_cap_room(city: City) -> None:
    city.program("youth", daily_cap=30_000)
    city.wallet("alice")
    city.merchant("bakery")
    city.credit("alice", "youth", 100_000)
    payment = city.paid("alice", "bakery", 30_000)
    assert city.pay("alice", "bakery", 10_000).code == Code.DAILY_LIMIT_EXCEEDED
    assert city.refund("bakery", payment, 10_000).code == Code.OK
    assert city.pay("alice", "bakery", 10_000).code == Code.OK


def test_a_refund_restores_an_expired_lot_for_expiry_not_for_spending(city: City) -> None:
    city.program("welfare", valid_days=1)
    city.wallet("alice")
    city.merchant("bakery")
    lot = city.credit("alice", "welfare", 1_000)
    payment = city.paid("alice", "bakery", 1_000)
    city.now = kst_ms(2026, 6, 1)
    assert city.refund("bakery", payment, 1_000).lots == [(lot, 1_000)]
    assert city.pay("alice", "bakery", 1_000).code == Code.PROGRAM_EXPIRED
    assert city.expire("alice").lots == [(lot, 1_000)]


# -- transfers -----------------------------------------------------------------------------


@pytest.fixture
def gifting(city: City) -> City:
    """alice holds transferable general money and non-transferable youth money; bob is empty."""
    city.program("general", transferable=True)
    city.program("youth", valid_days=90)
    city.wallet("alice")
    city.wallet("bob")
    return city


def test_a_transfer_moves_only_transferable_lots(gifting: City) -> None:
    city = gifting
    youth = city.credit("alice", "youth", 10_000)
    general = city.credit("alice", "general", 10_000)
    command = city.transfer_cmd("alice", "bob", 6_000)
    result = city.run(command, city.keys["alice"])
    assert result == Result(code="ok", lots=[(f"{command.id}.0", 6_000)], balance=14_000)
    assert city.lots("alice") == [(youth, 10_000), (general, 4_000)]
    assert city.lots("bob") == [(f"{command.id}.0", 6_000)]


def test_a_transferred_lot_keeps_program_version_and_expiry(gifting: City) -> None:
    city = gifting
    city.credit("alice", "general", 10_000)
    source = city.state.wallets["alice"].lots[0]
    command = city.transfer_cmd("alice", "bob", 2_500)
    assert city.code(command, city.keys["alice"]) == Code.OK
    gift = city.state.wallets["bob"].lots[0]
    assert (gift.id, gift.program, gift.amount, gift.origin) == (
        f"{command.id}.0",
        "general",
        2_500,
        "gift",
    )
    assert (gift.version, gift.expires_ms) == (source.version, source.expires_ms)


def test_a_transfer_of_non_transferable_money_is_not_transferable(gifting: City) -> None:
    gifting.credit("alice", "youth", 10_000)
    gifting.credit("alice", "general", 1_000)
    assert gifting.transfer("alice", "bob", 1_001).code == Code.NOT_TRANSFERABLE
    assert gifting.transfer("alice", "bob", 1_000).code == Code.OK


def test_a_transfer_beyond_the_wallet_total_is_insufficient_funds(gifting: City) -> None:
    gifting.credit("alice", "general", 1_000)
    assert gifting.transfer("alice", "bob", 1_001).code == Code.INSUFFICIENT_FUNDS


def test_expired_transferable_money_does_not_move(gifting: City) -> None:
    city = gifting
    city.program("gift", valid_days=1, transferable=True)
    city.credit("alice", "gift", 1_000)
    city.now = kst_ms(2026, 6, 1)
    assert city.transfer("alice", "bob", 1_000).code == Code.NOT_TRANSFERABLE


def test_a_transfer_beyond_the_receivers_holding_cap_is_holding_limit_exceeded(city: City) -> None:
    city.program("general", transferable=True, holding_cap=50_000)
    city.wallet("alice")
    city.wallet("bob")
    city.credit("alice", "general", 30_000)
    city.credit("bob", "general", 40_000)
    assert city.transfer("alice", "bob", 10_001).code == Code.HOLDING_LIMIT_EXCEEDED
    assert city.transfer("alice", "bob", 10_000).code == Code.OK
    assert city.balance("bob") == 50_000


def test_a_transfer_to_oneself_is_same_account(gifting: City) -> None:
    gifting.credit("alice", "general", 1_000)
    assert gifting.transfer("alice", "alice", 1).code == Code.SAME_ACCOUNT


def test_a_transfer_to_an_unknown_wallet_or_a_merchant_is_account_not_found(gifting: City) -> None:
    gifting.merchant("bakery")
    gifting.credit("alice", "general", 1_000)
    assert gifting.transfer("alice", "nobody", 1).code == Code.ACCOUNT_NOT_FOUND
    assert gifting.transfer("alice", "bakery", 1).code == Code.ACCOUNT_NOT_FOUND


def test_a_transfer_signed_by_the_receiver_is_signer_not_authorized(gifting: City) -> None:
    gifting.credit("alice", "general", 1_000)
    command = gifting.transfer_cmd("alice", "bob", 1)
    assert gifting.code(command, gifting.keys["bob"], MAKER, OPERATOR) == Code.SIGNER_NOT_AUTHORIZED


def test_transfers_do_not_use_the_daily_spending_cap(city: City) -> None:
    city.program("general", transferable=True, daily_cap=1_000)
    city.wallet("alice")
    city.wallet("bob")
    city.credit("alice", "general", 5_000)
    assert city.transfer("alice", "bob", 5_000).code == Code.OK


def test_a_zero_transfer_to_oneself_reports_invalid_amount_first(gifting: City) -> None:
    assert gifting.transfer("alice", "alice", 0).code == Code.INVALID_AMOUNT


def test_a_transfer_blocked_by_both_rules_reports_not_transferable_first(city: City) -> None:
    city.program("general", transferable=True, holding_cap=5_000)
    city.program("youth", valid_days=90)
    city.wallet("alice")
    city.wallet("bob")
    city.credit("alice", "youth", 10_000)
    city.credit("alice", "general", 5_000)
    city.credit("bob", "general", 1_000)
    # bob can take 4,000 more general money; the youth money may not move at all.
    assert city.transfer("alice", "bob", 8_000).code == Code.NOT_TRANSFERABLE


# -- expiry --------------------------------------------------------------------------------


def test_expire_returns_expired_lots_to_their_program_budget(city: City) -> None:
    city.program("general")
    city.program("welfare", budget=5_000, valid_days=1)
    city.wallet("alice")
    lot = city.credit("alice", "welfare", 5_000)
    kept = city.credit("alice", "general", 1_000)
    city.now = kst_ms(2026, 5, 31)
    result = city.expire("alice")
    assert result == Result(code="ok", lots=[(lot, 5_000)], balance=1_000)
    welfare = city.state.programs["welfare"]
    assert (welfare.budget, welfare.returned) == (5_000, 5_000)
    assert city.lots("alice") == [(kept, 1_000)]


def test_expire_with_nothing_expired_is_nothing_to_expire(city: City) -> None:
    city.program("welfare", valid_days=1)
    city.wallet("alice")
    city.credit("alice", "welfare", 5_000)
    city.now = kst_ms(2026, 5, 31) - 1
    assert city.expire("alice").code == Code.NOTHING_TO_EXPIRE
    city.now += 1
    assert city.expire("alice").code == Code.OK
    assert city.expire("alice").code == Code.NOTHING_TO_EXPIRE


def test_expire_is_signed_by_the_operator_or_an_official_not_the_holder(city: City) -> None:
    city.program("welfare", valid_days=1)
    city.wallet("alice")
    city.credit("alice", "welfare", 5)
    city.credit("alice", "welfare", 5)
    city.now = kst_ms(2026, 6, 2)
    assert city.expire("alice", city.keys["alice"]).code == Code.SIGNER_NOT_AUTHORIZED
    assert city.expire("alice", MAKER).code == Code.OK


def test_expire_of_an_unknown_wallet_is_account_not_found(city: City) -> None:
    assert city.expire("nobody").code == Code.ACCOUNT_NOT_FOUND


# -- redemption ----------------------------------------------------------------------------


def test_redeem_burns_merchant_units(shop: City) -> None:
    shop.credit("alice", "general", 30_000)
    shop.paid("alice", "bakery", 20_000)
    result = shop.redeem("bakery", 15_000)
    assert result == Result(code="ok", balance=5_000)
    assert shop.state.totals.burned == 15_000
    assert shop.state.merchants["bakery"].redeemed == 15_000
    assert shop.state.supply() == shop.state.totals.minted - 15_000


def test_redeem_beyond_the_merchant_balance_is_insufficient_funds(shop: City) -> None:
    shop.credit("alice", "general", 30_000)
    shop.paid("alice", "bakery", 20_000)
    assert shop.redeem("bakery", 20_001).code == Code.INSUFFICIENT_FUNDS


def test_redeem_is_signed_by_the_merchant_itself_only(shop: City) -> None:
    shop.credit("alice", "general", 30_000)
    shop.paid("alice", "bakery", 20_000)
    for others in [(CHECKER,), (OPERATOR,), (MAKER, CHECKER, OPERATOR)]:
        assert shop.code(shop.redeem_cmd("bakery", 1), *others) == Code.SIGNER_NOT_AUTHORIZED
    # A customer's key is not known for this merchant's payout: not even recorded.
    assert shop.code(shop.redeem_cmd("bakery", 1), shop.keys["alice"]) == Code.UNKNOWN_SIGNER
    assert shop.code(shop.redeem_cmd("bakery", 1), shop.keys["bakery"]) == Code.OK


def test_a_suspended_merchant_cannot_redeem_and_its_customers_refunds_still_work(
    shop: City,
) -> None:
    shop.credit("alice", "general", 30_000)
    payment = shop.paid("alice", "bakery", 20_000)
    assert shop.official(shop.suspend("bakery")) == Code.OK
    assert shop.redeem("bakery", 20_000).code == Code.MERCHANT_NOT_ACTIVE
    assert shop.redeem("bakery", 1).code == Code.MERCHANT_NOT_ACTIVE
    assert shop.refund("bakery", payment, 20_000).code == Code.OK
    assert shop.balance("alice") == 30_000


def test_a_reinstated_merchant_can_redeem_again(shop: City) -> None:
    shop.credit("alice", "general", 30_000)
    shop.paid("alice", "bakery", 20_000)
    assert shop.official(shop.suspend("bakery")) == Code.OK
    assert shop.official(shop.approve("bakery")) == Code.OK
    assert shop.redeem("bakery", 20_000).code == Code.OK


def test_redeem_reports_invalid_amount_before_merchant_status_before_funds(shop: City) -> None:
    assert shop.official(shop.suspend("bakery")) == Code.OK
    assert shop.redeem("bakery", 0).code == Code.INVALID_AMOUNT
    assert shop.redeem("bakery", 1).code == Code.MERCHANT_NOT_ACTIVE


def test_supply_is_minted_minus_burned_after_every_step(city: City) -> None:
    city.program("general", transferable=True)
    city.program("welfare", valid_days=1)
    city.wallet("alice")
    city.wallet("bob")
    city.merchant("bakery")
    steps = [
        lambda: city.credit("alice", "general", 50_000),
        lambda: city.credit("alice", "welfare", 5_000),
        lambda: city.paid("alice", "bakery", 17_000),
        lambda: city.transfer("alice", "bob", 10_000),
        lambda: city.pay("bob", "bakery", 3_000),
        lambda: city.redeem("bakery", 12_000),
        lambda: setattr(city, "now", kst_ms(2026, 6, 1)),
        lambda: city.expire("alice"),
        lambda: city.run(city.mint("general", 1), MAKER, CHECKER),
    ]
    for step in steps:
        step()
        totals = city.state.totals
        assert city.state.supply() == totals.minted - totals.burned
    assert city.state.totals.burned == 12_000


# -- every command -------------------------------------------------------------------------


def rejected_commands(city: City) -> list[tuple[c.Command, tuple[nacl.signing.SigningKey, ...]]]:
    """One rejected command of each kind, against the `shop` city with alice holding money."""
    return [
        (city.appoint(OUTSIDER, active=False), (MAKER,)),
        (c.SetWitnesses(id=city.new_id(), city=CITY, witnesses=[], quorum=1), (MAKER,)),
        (city.register("alice", OUTSIDER), (MAKER,)),
        (city.approve("bakery"), (MAKER,)),
        (city.suspend("bakery"), (MAKER,)),
        (city.opening("alice", OUTSIDER), (OUTSIDER,)),
        (city.define("general", policy(daily_cap=2, monthly_cap=1)), (MAKER, CHECKER)),
        (city.mint("general", 0), (MAKER,)),
        (city.credit_cmd("alice", "general", 10_000_001), (MAKER,)),
        (city.pay_cmd("alice", "bakery", 50_001), (city.keys["alice"],)),
        (city.refund_cmd("bakery", "f" * 32, 1), (city.keys["bakery"],)),
        (city.transfer_cmd("alice", "alice", 1), (city.keys["alice"],)),
        (c.Expire(id=city.new_id(), city=CITY, wallet="alice"), (OPERATOR,)),
        (city.redeem_cmd("bakery", 1), (city.keys["bakery"],)),
    ]


def test_a_rejected_command_of_any_kind_changes_nothing(shop: City) -> None:
    shop.credit("alice", "general", 50_000)
    shop.paid("alice", "bakery", 1)
    shop.redeem("bakery", 1)
    for command, signers in rejected_commands(shop):
        before = snapshot(shop.state)
        result, touched = machine.apply(
            shop.state, command, frozenset(map(public_key_hex, signers)), shop.now
        )
        assert not result.ok, command
        assert (touched, snapshot(shop.state)) == ([], before), command


@pytest.mark.parametrize(
    "amount", [0, -1, AMOUNT_MAX + 1, True], ids=["zero", "negative", "above-max", "true"]
)
def test_bad_amounts_are_invalid_amount_for_every_money_command(shop: City, amount: int) -> None:
    shop.credit("alice", "general", 50_000)
    payment = shop.paid("alice", "bakery", 10_000)
    shop.wallet("bob")
    attempts: list[tuple[c.Command, tuple[nacl.signing.SigningKey, ...]]] = [
        (shop.mint("general", amount), (MAKER, CHECKER)),
        (shop.credit_cmd("alice", "general", amount), (MAKER, CHECKER)),
        (shop.pay_cmd("alice", "bakery", amount), (shop.keys["alice"],)),
        (shop.refund_cmd("bakery", payment, amount), (shop.keys["bakery"],)),
        (shop.transfer_cmd("alice", "bob", amount), (shop.keys["alice"],)),
        (shop.redeem_cmd("bakery", amount), (shop.keys["bakery"],)),
    ]
    for command, signers in attempts:
        assert shop.code(command, *signers) == Code.INVALID_AMOUNT, type(command).__name__


def test_the_amount_limit_itself_is_a_valid_amount(city: City) -> None:
    city.program("general", budget=0)
    assert city.official(city.mint("general", AMOUNT_MAX)) == Code.OK


def test_a_new_program_version_does_not_change_money_already_issued(
    youth_and_general: City,
) -> None:
    city = youth_and_general
    city.program("gift", budget=100_000)  # v1: no restrictions
    old = city.credit("alice", "gift", 10_000)
    stricter = policy(denied_categories=["department_store"])
    assert city.official(city.define("gift", stricter)) == Code.OK
    new = city.credit("alice", "gift", 10_000)
    assert [lot.version for lot in city.state.wallets["alice"].lots] == [1, 2]
    assert city.pay("alice", "hyundai", 10_000).lots == [(old, 10_000)]
    assert city.pay("alice", "hyundai", 1).code == Code.CATEGORY_DENIED
    assert city.lots("alice") == [(new, 10_000)]


def test_the_same_commands_give_the_same_state_every_time() -> None:
    def day(city: City) -> dict[str, bytes]:
        city.program("general", transferable=True)
        city.wallet("alice")
        city.wallet("bob")
        city.merchant("bakery")
        city.credit("alice", "general", 50_000)
        payment = city.paid("alice", "bakery", 20_000)
        city.refund("bakery", payment, 5_000)
        city.transfer("alice", "bob", 7_000)
        return snapshot(city.state)

    assert day(City()) == day(City())


# -- card wallets, lot limit, holding cap through refunds ---------------------------------------


def test_a_card_wallet_gift_without_evidence_is_evidence_missing(city: City) -> None:
    city.program("general", transferable=True)
    city.wallet("card-7", custodial=True)
    city.wallet("bob")
    city.credit("card-7", "general", 10_000)
    assert city.transfer("card-7", "bob", 1_000).code == Code.EVIDENCE_MISSING
    assert city.transfer("card-7", "bob", 1_000, evidence="van:auth:654321").code == Code.OK
    assert city.balance("bob") == 1_000


def test_a_card_wallet_gift_reports_same_account_before_evidence(city: City) -> None:
    city.program("general", transferable=True)
    city.wallet("card-7", custodial=True)
    assert city.transfer("card-7", "card-7", 1).code == Code.SAME_ACCOUNT


def test_gifts_of_the_same_money_merge_into_one_lot(gifting: City) -> None:
    city = gifting
    city.credit("alice", "general", 10_000)
    first = city.transfer_cmd("alice", "bob", 1)
    assert city.code(first, city.keys["alice"]) == Code.OK
    for _ in range(300):
        assert city.transfer("alice", "bob", 1).lots == [(f"{first.id}.0", 1)]
    assert city.lots("bob") == [(f"{first.id}.0", 301)]


def test_gifts_of_differently_expiring_money_stay_apart(gifting: City) -> None:
    city = gifting
    city.program("short", valid_days=10, transferable=True)
    city.credit("alice", "short", 1_000)
    city.credit("alice", "general", 1_000)
    command = city.transfer_cmd("alice", "bob", 2_000)
    result = city.run(command, city.keys["alice"])
    assert result.lots == [(f"{command.id}.0", 1_000), (f"{command.id}.1", 1_000)]
    assert [lot.program for lot in city.state.wallets["bob"].lots] == ["short", "general"]


def fill_lots(city: City, wallet: str, count: int) -> None:
    for _ in range(count):
        city.credit(wallet, "general", 1)


def test_a_credit_beyond_the_lot_limit_is_lot_limit_exceeded(city: City) -> None:
    city.program("general")
    city.wallet("alice")
    city.merchant("bakery")
    fill_lots(city, "alice", spending.LOTS_PER_WALLET_MAX)
    credit = city.credit_cmd("alice", "general", 1)
    assert city.official(credit) == Code.LOT_LIMIT_EXCEEDED
    # Spending a lot makes room again.
    assert city.pay("alice", "bakery", 1).code == Code.OK
    assert city.official(city.credit_cmd("alice", "general", 1)) == Code.OK


def test_a_gift_needing_a_new_lot_beyond_the_limit_is_lot_limit_exceeded(gifting: City) -> None:
    city = gifting
    city.program("short", valid_days=10, transferable=True)
    city.credit("alice", "short", 1_000)
    city.credit("alice", "general", 1_000)
    for _ in range(spending.LOTS_PER_WALLET_MAX - 1):
        city.credit("bob", "general", 1)
    # bob has room for one new lot: the short-lived money fits, the general one does not.
    assert city.transfer("alice", "bob", 2_000).code == Code.LOT_LIMIT_EXCEEDED
    assert city.transfer("alice", "bob", 1_000).code == Code.OK
    # The short-lived money is gone; general money would need a new lot in a full wallet.
    assert city.transfer("alice", "bob", 1).code == Code.LOT_LIMIT_EXCEEDED


def test_a_full_wallet_still_takes_gifts_that_merge(gifting: City) -> None:
    city = gifting
    city.credit("alice", "general", 10_000)
    assert city.transfer("alice", "bob", 1).code == Code.OK
    for _ in range(spending.LOTS_PER_WALLET_MAX - 1):
        city.credit("bob", "general", 1)
    assert len(city.state.wallets["bob"].lots) == spending.LOTS_PER_WALLET_MAX
    assert city.transfer("alice", "bob", 500).code == Code.OK


def test_a_refund_is_never_refused_for_the_lot_limit(city: City) -> None:
    city.program("general")
    city.wallet("alice")
    city.merchant("bakery")
    fill_lots(city, "alice", 3)
    payment = city.paid("alice", "bakery", 3)  # three lots consumed and removed
    fill_lots(city, "alice", spending.LOTS_PER_WALLET_MAX)
    assert city.refund("bakery", payment, 3).code == Code.OK
    assert len(city.state.wallets["alice"].lots) == spending.LOTS_PER_WALLET_MAX + 3
    assert city.official(city.credit_cmd("alice", "general", 1)) == Code.LOT_LIMIT_EXCEEDED


def test_a_refund_may_take_a_wallet_above_its_holding_cap_which_then_blocks_credits(
    city: City,
) -> None:
    """The documented exception: a refund restores the exact lots a payment drew, even
    above the holding cap; until the wallet is below the cap again it takes no more."""
    city.program("general", holding_cap=50_000)
    city.wallet("alice")
    city.merchant("bakery")
    city.credit("alice", "general", 50_000)
    payment = city.paid("alice", "bakery", 20_000)
    city.credit("alice", "general", 20_000)
    assert city.refund("bakery", payment, 20_000).code == Code.OK
    assert city.balance("alice") == 70_000
    assert city.official(city.credit_cmd("alice", "general", 1)) == Code.HOLDING_LIMIT_EXCEEDED
    city.paid("alice", "bakery", 20_001)
    assert city.official(city.credit_cmd("alice", "general", 1)) == Code.OK


def test_a_payment_walks_at_most_the_lot_limit_however_many_gifts_arrive(gifting: City) -> None:
    city = gifting
    city.credit("alice", "general", 10_000)
    for _ in range(1_000):
        city.transfer("alice", "bob", 1)
    assert len(city.state.wallets["bob"].lots) == 1


# -- input bounds the ledger keeps even for commands built in code ------------------------------


@pytest.mark.parametrize("revenue", [-1, REVENUE_MAX + 1, True])
def test_an_annual_revenue_outside_its_range_is_invalid_amount(city: City, revenue: int) -> None:
    registration = city.register("bakery", signing_key(74), revenue=revenue)
    assert city.official(registration) == Code.INVALID_AMOUNT


@pytest.mark.parametrize("days", [0, VALID_DAYS_MAX + 1, 10_000_000])
def test_a_genesis_default_validity_outside_its_range_is_invalid_policy(days: int) -> None:
    code, _ = on_new_city(genesis(days=days), OPERATOR)
    assert code == Code.INVALID_POLICY

"""rotate_operator in the ledger: who must sign, which keys it takes, what changes."""

from __future__ import annotations

import msgspec
import nacl.signing
import pytest

from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.ledger import machine, rotation
from localpay.ledger.signatures import public_key_hex
from localpay.ledger.state import CityState
from localpay.testing.builders import CHECKER, MAKER, OPERATOR, OUTSIDER, T0, RulesCity
from localpay.testing.builders import command_id as cid
from localpay.testing.builders import new_key as key


class City(RulesCity):
    def rotate(self, new: str, *signers: nacl.signing.SigningKey, old: str | None = None) -> str:
        old = old or self.state.operator_key()
        command = c.RotateOperator(id=cid(), city="gimpo", old_key=old, new_key=new)
        return self.apply(command, *signers)


def test_a_rotation_signed_by_the_operator_and_two_officials_makes_the_new_key_current() -> None:
    city, new = City(), key()
    assert city.rotate(public_key_hex(new), OPERATOR, MAKER, CHECKER) == Code.OK
    assert city.state.operator_key() == public_key_hex(new)
    assert rotation.operator_keys(city.state) == [public_key_hex(OPERATOR), public_key_hex(new)]
    assert rotation.retired_by(city.state, public_key_hex(OPERATOR)) is not None
    # The next rotation needs the new key: the old one is an outsider now.
    newer = public_key_hex(key())
    assert city.rotate(newer, OPERATOR, MAKER, CHECKER) == Code.OPERATOR_SIGNATURE_MISSING
    assert city.rotate(newer, new, MAKER, CHECKER) == Code.OK


def test_without_the_operator_key_the_officials_alone_cannot_rotate() -> None:
    city = City()
    assert city.rotate(public_key_hex(key()), MAKER, CHECKER) == Code.OPERATOR_SIGNATURE_MISSING
    assert city.state.operator_key() == public_key_hex(OPERATOR)


def test_the_operator_without_officials_is_not_authorized() -> None:
    assert City().rotate(public_key_hex(key()), OPERATOR) == Code.SIGNER_NOT_AUTHORIZED


def test_the_operator_with_one_official_lacks_the_second_approval() -> None:
    assert City().rotate(public_key_hex(key()), OPERATOR, MAKER) == Code.APPROVALS_MISSING


def test_the_city_approval_rule_for_rotation_is_the_quorum() -> None:
    city = City({"rotate_operator": 1})
    assert city.rotate(public_key_hex(key()), OPERATOR, MAKER) == Code.OK


def test_a_stranger_alone_is_unknown_and_never_recorded() -> None:
    assert City().rotate(public_key_hex(key()), OUTSIDER) == Code.UNKNOWN_SIGNER


def test_the_old_key_must_be_the_current_one() -> None:
    city = City()
    named = public_key_hex(key())
    code = city.rotate(public_key_hex(key()), OPERATOR, MAKER, CHECKER, old=named)
    assert code == Code.OPERATOR_KEY_MISMATCH


def test_the_new_key_must_differ_from_the_current_one() -> None:
    city = City()
    current = public_key_hex(OPERATOR)
    assert city.rotate(current, OPERATOR, MAKER, CHECKER) == Code.INVALID_OPERATOR_KEY


def test_a_retired_key_never_comes_back() -> None:
    city, new = City(), key()
    assert city.rotate(public_key_hex(new), OPERATOR, MAKER, CHECKER) == Code.OK
    code = city.rotate(public_key_hex(OPERATOR), new, MAKER, CHECKER)
    assert code == Code.INVALID_OPERATOR_KEY
    assert city.state.operator_key() == public_key_hex(new)


@pytest.mark.parametrize(
    "point",
    [
        "00" * 32,  # not on the curve's prime-order group
        "01" + "00" * 31,  # the neutral element: small order, any signature "verifies"
        "ff" * 32,  # not a field element
    ],
)
def test_the_new_key_must_be_a_valid_ed25519_point(point: str) -> None:
    city = City()
    assert city.rotate(point, OPERATOR, MAKER, CHECKER) == Code.INVALID_OPERATOR_KEY
    assert city.state.authorities.rotations == []


def test_after_a_rotation_expire_takes_the_new_operator_key() -> None:
    city, new = City(), key()
    assert city.rotate(public_key_hex(new), OPERATOR, MAKER, CHECKER) == Code.OK
    expire = c.Expire(id=cid(), city="gimpo", wallet="w-nobody")
    assert city.apply(expire, OPERATOR) == Code.UNKNOWN_SIGNER
    assert city.apply(c.Expire(id=cid(), city="gimpo", wallet="w-nobody"), new) == (
        Code.ACCOUNT_NOT_FOUND
    )


def test_rotation_is_an_official_command_with_the_default_two_approvals() -> None:
    assert "rotate_operator" in c.OFFICIAL_COMMANDS
    assert c.approvals_needed({}, "rotate_operator") == 2


def test_a_genesis_cannot_ask_more_officials_for_a_rotation_than_a_command_carries() -> None:
    # Four officials and the operator would be five signatures: never possible.
    officials = [key() for _ in range(4)]
    genesis = c.CreateCity(
        id=cid(),
        city="gimpo",
        name="김포시",
        currency="KRW",
        operator_key=public_key_hex(OPERATOR),
        officials=[c.Official(key=public_key_hex(k), role="maker") for k in officials],
        approvals={"rotate_operator": c.SIGNATURES_MAX},
        default_valid_days=1825,
    )
    result, _ = machine.apply(
        CityState("gimpo"), genesis, frozenset({public_key_hex(OPERATOR)}), T0
    )
    assert result.code == Code.INVALID_POLICY
    three = msgspec.structs.replace(genesis, approvals={"rotate_operator": 3})
    result, _ = machine.apply(CityState("gimpo"), three, frozenset({public_key_hex(OPERATOR)}), T0)
    assert result.code == Code.OK

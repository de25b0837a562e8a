"""City creation and the officials who sign administrative commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec
import nacl.signing

from localpay.domain.commands import (
    DEFAULT_REFUND_WINDOW_DAYS,
    OFFICIAL_COMMANDS,
    Command,
    CreateCity,
    Official,
    RotateOperator,
    approvals_needed,
    command_type,
)
from localpay.domain.errors import Conflict, NotFound
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.services.cities.command_ids import derived_id
from localpay.services.cities.ledgers import OPERATOR, Keys, Ledgers, MissingKey, new_id

#: The officials a new city starts with: one makes, a different one checks.
DEFAULT_OFFICIALS: Final = ("maker", "checker")
#: Every official action needs two distinct officials (maker-checker) from genesis on:
#: money (mint, credit), merchants (registration, approval or reinstatement, suspension),
#: programs, officials and witnesses. The ledger never lets a city mint with fewer.
DEFAULT_APPROVALS: Final = {kind: 2 for kind in sorted(OFFICIAL_COMMANDS)}
#: Purchased money is valid 5 years under the Act on Local Love Vouchers.
DEFAULT_VALID_DAYS: Final = 5 * 365


class CityExists(Conflict):
    """The city is already in this store: a genesis (or a whole imported chain) is
    written once."""


def official_name(role: str) -> str:
    return f"official-{role}"


def create_city(
    ledgers: Ledgers,
    city: str,
    name: str,
    officials: Sequence[str] = DEFAULT_OFFICIALS,
    refund_window_days: int = DEFAULT_REFUND_WINDOW_DAYS,
) -> Receipt:
    """Write a city's genesis: its operator key, its officials' keys, its refund window."""
    if city in ledgers.store.cities():
        raise CityExists(f"city {city!r} already exists in this store")
    operator = ledgers.keys.get_or_create(city, OPERATOR)
    members = [
        Official(
            key=public_key_hex(ledgers.keys.get_or_create(city, official_name(role))), role=role
        )
        for role in officials
    ]
    genesis = CreateCity(
        id=new_id(),
        city=city,
        name=name,
        currency="KRW",
        operator_key=public_key_hex(operator),
        officials=members,
        approvals=dict(DEFAULT_APPROVALS),
        default_valid_days=DEFAULT_VALID_DAYS,
        refund_window_days=refund_window_days,
    )
    return ledgers.execute(city, sign_command(genesis, [operator]))


def official_keys(keys: Keys, city: str) -> list[nacl.signing.SigningKey]:
    names = [n for n in keys.names(city) if n.startswith("official-")]
    # maker before checker: the maker proposes, the checker countersigns.
    ordered = sorted(names, key=lambda n: (n != official_name("maker"), n))
    return [keys.load(city, n) for n in ordered]


class OfficialSigner:
    """Signs administrative commands with as many officials as the city requires."""

    def __init__(self, keys: Keys, city: str, approvals: dict[str, int]) -> None:
        self.keys = official_keys(keys, city)
        self.operator = keys.load(city, OPERATOR)
        self.approvals = approvals

    def sign(self, command: Command) -> bytes:
        kind = command_type(command)
        if kind not in OFFICIAL_COMMANDS:
            return sign_command(command, [self.operator])
        needed = approvals_needed(self.approvals, kind)
        return sign_command(command, self.keys[:needed])


class OperatorRotation(msgspec.Struct, frozen=True):
    """What `rotate_operator` did: the ledger's answer and the keys on either side."""

    receipt: Receipt
    old_key: str
    new_key: str
    key_name: str  # the new key's file in the key store


def current_operator(ledgers: Ledgers, city: str) -> tuple[str, nacl.signing.SigningKey]:
    """The city's current operator key (hex, as the chain names it) and its private key."""
    state = ledgers.sequencer(city).state
    if state.genesis is None:
        raise NotFound(f"city {city!r} does not exist in this store")
    old_key = state.operator_key()
    operator = ledgers.operator_keys(city).get(old_key)
    if operator is None:
        raise MissingKey(
            f"this server holds no private key for {city!r}'s current operator key {old_key}"
        )
    return old_key, operator


def next_operator_key(ledgers: Ledgers, city: str) -> tuple[str, str]:
    """(file name, public key hex) of the key the next rotation hands over to: made in the
    key store now (`operator-<n>`, the n-th key after the genesis key `operator`), before
    any command names it, for the sequencer refuses a rotation to a key it cannot sign
    with. Asked again before that rotation is applied, the same key."""
    key_name = f"{OPERATOR}-{len(ledgers.sequencer(city).state.authorities.rotations) + 1}"
    return key_name, public_key_hex(ledgers.keys.get_or_create(city, key_name))


def rotate_operator(ledgers: Ledgers, city: str) -> OperatorRotation:
    """Rotate the city's operator key to a new one made here, signed by the current
    operator key and by as many officials as the city requires, both held by this server.

    After a restart the sequencer signs with whichever key the chain names. Running again
    after a crash before the submit reuses `operator-<n>`, and the same old and new key
    give the same command id, so a lost answer is asked again, never applied twice."""
    old_key, operator = current_operator(ledgers, city)
    key_name, new_key = next_operator_key(ledgers, city)
    command = RotateOperator(
        id=derived_id(city, OPERATOR, "rotate_operator", f"{old_key}>{new_key}"),
        city=city,
        old_key=old_key,
        new_key=new_key,
    )
    genesis = ledgers.sequencer(city).state.genesis
    assert genesis is not None
    needed = approvals_needed(genesis.approvals, "rotate_operator")
    signers = [operator, *official_keys(ledgers.keys, city)[:needed]]
    return OperatorRotation(
        ledgers.execute(city, sign_command(command, signers)), old_key, new_key, key_name
    )

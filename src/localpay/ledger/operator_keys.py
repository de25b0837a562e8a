"""Which private key signs a city's next block: the operator key the chain names.

After a rotate_operator, from the next block on, that is its new key (ledger/rotation.py).
A rotation is only recorded to a key this server can find, and on start the sequencer
signs with the key the chain's state names, so a crash between a rotation's commit and
the switch changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import nacl.signing

from localpay.domain.commands import Command, RotateOperator
from localpay.ledger.receipt import OperatorKeyMissing
from localpay.ledger.state import CityState

KeyLookup = Callable[[str], nacl.signing.SigningKey | None]


class OperatorKeys:
    def __init__(
        self, city: str, genesis: nacl.signing.SigningKey, lookup: KeyLookup | None
    ) -> None:
        """`genesis` signs the genesis; `lookup` finds the private key of another operator
        public key (rotate_operator), None if this server has none."""
        self.city = city
        self._known = {bytes(genesis.verify_key).hex(): genesis}
        self._lookup = lookup

    def current(self, state: CityState) -> nacl.signing.SigningKey:
        """The key the chain says signs its next block: after a crash between a rotation's
        commit and the switch to its key, the chain decides, not the memory of the switch."""
        current = state.operator_key()
        found = self.find(current)
        if found is None:
            raise OperatorKeyMissing(
                f"city {self.city!r} is signed by operator key {current} since its last"
                " rotation, and this server holds no private key for it"
            )
        return found

    def unsignable(self, state: CityState, command: Command, signers: frozenset[str]) -> bool:
        """A rotation the operator signed, to a key this server cannot sign the next block
        with. (Without the operator's signature the ledger refuses it anyway: no key is
        looked up for a stranger's command.)"""
        if not isinstance(command, RotateOperator) or state.operator_key() not in signers:
            return False
        return self.find(command.new_key) is None

    def find(self, public_hex: str) -> nacl.signing.SigningKey | None:
        """The private key of an operator public key, from memory or the key lookup (read
        once: the key of a rotation is found before it is applied, so sealing never waits)."""
        found = self._known.get(public_hex)
        if found is None and self._lookup is not None:
            found = self._lookup(public_hex)
            if found is not None:
                self._known[public_hex] = found
        return found

"""Administrative actions by officials who sign in with a password: maker-checker.

An official proposes an action (define a program, register or suspend a merchant,
mint, credit...). The server builds the ledger command and signs it with that
official's custodial key. If the city needs one signature for that kind, it goes
to the ledger at once; otherwise it waits as a pending proposal until a different
official approves it, adding their own signature, and only then is submitted.
On the chain each official's signature is there to see: who made, who checked.

Exactly once: the proposal's id and its command's id are derived from the maker and
the request's Idempotency-Key (services/cities/command_ids.py), so a retried proposal finds
the one it made; an approval by an official who already signed changes nothing, and
resubmits the command if an earlier submit got no answer (the ledger answers a
resubmitted id with its original receipt). The maker can never be the checker.

Whose key signs: an official's key is either held by the server (custodial: a key
file in the server's key folder, named in the official's log-in) or held by the
official alone (the log-in names only the public key, `pub:<hex>`). A self-held key
never reaches the server: the official signs the proposal's exact body bytes on their
own device (`localpay official approve`, later the console in the browser) and sends
the signature. So that no single place holds both keys of one approval, the demo
hands the checker's key out of the server's key folder (docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import msgspec
import nacl.signing

from localpay.domain.commands import (
    OFFICIAL_COMMANDS,
    Command,
    Envelope,
    RotateOperator,
    Signature,
    approvals_needed,
    encode_canonical,
    signing_message,
)
from localpay.domain.errors import Refused
from localpay.domain.proposals import PENDING, Proposal
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import verify_one
from localpay.services.approvals.ports import ProposalRepository
from localpay.services.approvals.views import ProposalView, proposal_view
from localpay.services.cities.command_ids import derived_id
from localpay.services.cities.ledgers import Ledgers, MissingKey
from localpay.services.cities.officials import current_operator, next_operator_key
from localpay.services.identity.service import Principal

#: Kinds an official may propose through the API. A rotate_operator proposal names no
#: keys: the server makes the new operator key, and adds the current operator key's
#: signature to the officials' when it submits (the ledger needs both).
PROPOSABLE: Final = OFFICIAL_COMMANDS | {"expire"}
CHECKER_ROLE: Final = "city_checker"


class ProposalError(Refused, ValueError):
    """The proposal cannot be made or decided; `code` says why (API problem code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


#: How a log-in names an official key the official holds alone: `pub:` + public key hex.
SELF_HELD: Final = "pub:"

_command_decoder: Final = msgspec.json.Decoder(Command)


def build_command(city: str, kind: str, params: dict[str, Any], command_id: str) -> Command:
    if kind not in PROPOSABLE:
        raise ProposalError("validation_failed", f"kind must be one of {sorted(PROPOSABLE)}")
    fields = {**params, "type": kind, "id": command_id, "city": city}
    try:
        command: Command = msgspec.convert(fields, type=Command)
    except msgspec.ValidationError as exc:
        raise ProposalError("validation_failed", f"params: {exc}") from None
    return command


def new_merchant_key(ledgers: Ledgers, city: str, merchant: str) -> nacl.signing.SigningKey:
    """The custodial key of a merchant being registered (made if it is not there yet)."""
    return ledgers.keys.get_or_create(city, f"merchant-{merchant}")


def merchant_key(ledgers: Ledgers, city: str, merchant: str) -> nacl.signing.SigningKey:
    """The custodial key the server signs with for a merchant's staff and API keys.

    Never made here: a new key would not be the one registered on the chain, so a missing
    key file (a move without the key folder) must be an error the operator sees."""
    try:
        return ledgers.keys.load(city, f"merchant-{merchant}")
    except KeyError:
        raise MissingKey(
            f"the key file of merchant {merchant!r} of city {city!r} is missing from this"
            " server's key folder"
        ) from None


def _sign(key: nacl.signing.SigningKey, body: bytes) -> Signature:
    return Signature(
        key=bytes(key.verify_key).hex(), sig=key.sign(signing_message(body)).signature.hex()
    )


class Proposals:
    def __init__(
        self, proposals: ProposalRepository, ledgers: Ledgers, clock: Callable[[], int]
    ) -> None:
        self.proposals = proposals
        self.ledgers = ledgers
        self.clock = clock

    def _needed(self, city: str, kind: str) -> int:
        genesis = self.ledgers.sequencer(city).state.genesis
        assert genesis is not None
        return approvals_needed(genesis.approvals, kind) if kind in OFFICIAL_COMMANDS else 1

    def _signature(self, principal: Principal, body: bytes, given: Signature | None) -> Signature:
        """The official's signature over `body`: made here with a custodial key, or the
        one the official sent, checked, for a key they hold alone."""
        assert principal.official_key is not None
        held = self_held_key(principal)
        if held is None:
            if given is not None:
                raise ProposalError(
                    "validation_failed", "this official's key is held by the server: send none"
                )
            return _sign(self.ledgers.keys.load(principal.city, principal.official_key), body)
        if given is None:
            raise ProposalError(
                "signature_required",
                "this official holds their own key: sign the proposal's body"
                " (`localpay official approve`) and send the signature",
            )
        if given.key != held or verify_one(body, [given]) is None:
            raise ProposalError(
                "official_signature_invalid",
                "the signature is not this official's key over the proposal's body",
            )
        return given

    def propose(
        self, principal: Principal, kind: str, params: dict[str, Any], idempotency_key: str
    ) -> ProposalView:
        """Make (or, on a retry, find) a proposal; the maker's signature is on it at once
        when the server holds their key, else the maker signs it next (approve)."""
        if kind == "register_merchant" and "keys" not in params and "merchant" in params:
            # The merchant's staff sign in with passwords: the server keeps its key.
            key = new_merchant_key(self.ledgers, principal.city, str(params["merchant"]))
            params = {**params, "keys": [bytes(key.verify_key).hex()]}
        if kind == "rotate_operator":
            params = self._rotation_params(principal.city, params)
        made = derived_id(principal.city, principal.id, "proposal", idempotency_key)
        proposal_id = f"pr-{made[:16]}"
        command = build_command(principal.city, kind, params, made)
        body = encode_canonical(command)
        sigs = () if self_held_key(principal) else (self._signature(principal, body, None),)
        made_now = Proposal(
            proposal_id, principal.city, kind, body, sigs, principal.id, PENDING, None, self.clock()
        )
        if not self.proposals.add(made_now):  # a retry: the proposal this key made is the answer
            found = self._find(principal.city, proposal_id)
            if found.body != body or found.maker != principal.id:
                raise ProposalError(
                    "idempotency_key_reused", "this key already made a different proposal"
                )
        return self._settle(principal.city, proposal_id)

    def approve(
        self, principal: Principal, proposal_id: str, signature: Signature | None = None
    ) -> ProposalView:
        """Add the principal's signature: the maker's own first one (a self-held key),
        or a checker's. Repeating an approval changes nothing (and finishes a submit
        that got no answer)."""
        while True:
            found = self._find(principal.city, proposal_id)
            body, sigs, maker, status = found.body, found.sigs, found.maker, found.status
            if maker == principal.id and sigs:
                if signature is not None and signature == sigs[0]:
                    return self._settle(principal.city, proposal_id)  # the maker's, again
                raise ProposalError("same_official", "a different official must check a proposal")
            if maker != principal.id and principal.role != CHECKER_ROLE:
                raise ProposalError("forbidden", "only a checker checks another's proposal")
            if maker != principal.id and not sigs:
                raise ProposalError("proposal_unsigned", "the maker has not signed it yet")
            mine = self._signature(principal, body, signature)
            if any(s.key == mine.key for s in sigs):
                if sigs[0].key == mine.key:  # the maker's key cannot also be the checker's
                    raise ProposalError("same_official", "this official's key already signed it")
                return self._settle(principal.city, proposal_id)  # a retried approval
            if status != PENDING:
                raise ProposalError("proposal_decided", f"the proposal is already {status}")
            # Compare-and-set: two checkers approving at once both get their signature in.
            if self.proposals.add_signature(proposal_id, sigs, (*sigs, mine)):
                return self._settle(principal.city, proposal_id)

    def _settle(self, city: str, proposal_id: str) -> ProposalView:
        """Submit a pending proposal that has enough signatures (again, if an earlier
        submit got no answer: the same envelope, so the ledger applies it at most once)."""
        found = self._find(city, proposal_id)
        if found.status == PENDING and len(found.sigs) >= self._needed(city, found.kind):
            sigs = found.sigs
            if found.kind == "rotate_operator":  # deterministic: a resubmit is the same bytes
                sigs = (*sigs, self._operator_signature(city, found.body))
            return self._submit(proposal_id, city, found.body, sigs)
        return proposal_view(found)

    def reject(self, principal: Principal, proposal_id: str) -> ProposalView:
        found = self._find(principal.city, proposal_id)
        if len(found.sigs) >= self._needed(principal.city, found.kind):
            # Fully signed means sent to the ledger, perhaps applied: too late to reject.
            raise ProposalError(
                "proposal_decided",
                "the proposal has all its approvals and went to the ledger; approve again"
                " to see its outcome",
            )
        if not self.proposals.reject(principal.city, proposal_id, found.sigs):
            raise ProposalError("proposal_decided", "the proposal is no longer pending")
        return self.get(principal.city, proposal_id)

    def _rotation_params(self, city: str, params: dict[str, Any]) -> dict[str, Any]:
        if params:
            raise ProposalError(
                "validation_failed", "rotate_operator takes no params: the server makes the key"
            )
        old_key, _ = current_operator(self.ledgers, city)
        _, new_key = next_operator_key(self.ledgers, city)
        return {"old_key": old_key, "new_key": new_key}

    def _operator_signature(self, city: str, body: bytes) -> Signature:
        """The signature of the operator key a rotation hands over from (the server's)."""
        command = _command_decoder.decode(body)
        assert isinstance(command, RotateOperator)
        key = self.ledgers.operator_keys(city).get(command.old_key)
        if key is None:
            raise MissingKey(f"this server holds no private key for operator key {command.old_key}")
        return _sign(key, body)

    def _submit(
        self, proposal_id: str, city: str, body: bytes, sigs: tuple[Signature, ...]
    ) -> ProposalView:
        envelope = encode_canonical(Envelope(body=msgspec.Raw(body), sigs=list(sigs)))
        receipt: Receipt = self.ledgers.execute(city, envelope)
        self.proposals.submitted(proposal_id, msgspec.json.encode(receipt).decode())
        return self.get(city, proposal_id)

    def _find(self, city: str, proposal_id: str) -> Proposal:
        found = self.proposals.find(city, proposal_id)
        if found is None:
            raise ProposalError("not_found", f"no proposal {proposal_id!r} in {city!r}")
        return found

    def get(self, city: str, proposal_id: str) -> ProposalView:
        return proposal_view(self._find(city, proposal_id))

    def list(
        self, city: str, status: str | None, after: tuple[int, str] | None, limit: int
    ) -> list[ProposalView]:
        """Newest first; `after` is the (created_ms, id) of the last item seen, so items
        made in the same millisecond are neither skipped nor repeated."""
        before = after if after is not None else (2**62, "")
        return [proposal_view(p) for p in self.proposals.page(city, status, before, limit)]


def self_held_key(principal: Principal) -> str | None:
    """The public key of an official who holds their key alone; None if the server does."""
    key = principal.official_key or ""
    return key.removeprefix(SELF_HELD) if key.startswith(SELF_HELD) else None

"""How a transaction is recorded: its stored envelope and its record beside the leaf."""

from __future__ import annotations

from localpay.domain.commands import Command, Envelope, command_type, encode_canonical
from localpay.ledger import machine, privacy
from localpay.ledger.blocks import TxRecord, encode_result
from localpay.ledger.chain import ChainHead
from localpay.ledger.results import Result
from localpay.ledger.state import CityState


def stored_envelope(envelope: Envelope) -> bytes:
    """The envelope as the chain stores it, re-made canonically (the body is already
    checked canonical): the bytes a command id is bound to."""
    return b'{"body":' + bytes(envelope.body) + b',"sigs":' + encode_canonical(envelope.sigs) + b"}"


def tx_record(
    state: CityState, head: ChainHead, envelope: Envelope, command: Command, result: Result, n: int
) -> TxRecord:
    """The record of the `n`th transaction of the block after `head`, applied to `state`:
    the leaf's fields, and outside the leaf whose histories list it and the sender's
    balance after it (ledger/privacy.py)."""
    signers = [s.key for s in envelope.sigs]  # all verified, or it was rejected
    sender = privacy.sender(command, signers, privacy.state_keys(state))
    parties = machine.parties(state, command)
    return TxRecord(
        seq=head.log.size + n,
        height=head.height,
        id=command.id,
        kind=command_type(command),
        envelope=stored_envelope(envelope),
        result=encode_result(result.recorded()),
        parties=privacy.history_parties(parties, sender, result.ok),
        balances=privacy.sender_balances(state, sender) if result.ok else (),
    )

"""A witness's alarms: why it refuses a chain, and how an operator clears one.

It refuses and raises an alarm when the operator's chain is inconsistent with itself or
with what the witness verified before:

=========================  ===========================================================
reason                     found when
=========================  ===========================================================
checkpoint_inconsistent    a checkpoint of a size it signed, with another root
history_rewritten          a block it verified is served with another hash or other
                           transactions; the chain got shorter; a block does not link
invalid_signature          an operator block or checkpoint signature, or a command's
replay_mismatch            a transaction's re-execution gives another result
merkle_mismatch            a block's transactions do not hash to its roots
gap                        missing or reordered heights or seqs
chain_invalid              a command of another city; anything else unreadable or
                           inconsistent
clock_skew                 a block's time is more than CLOCK_SKEW_MS_MAX (5 minutes)
                           ahead of the witness's own clock
fork                       a peer witness holds an operator-signed checkpoint whose root
                           differs from this witness's verified log at that size
=========================  ===========================================================

An alarm is a JSON log line at error level, `localpay_witness_alarm{reason}` = 1,
GET /healthz = 503 with the reason, and a row in the store's `witness_alarms`: from
then on the witness signs nothing for that city, across restarts, until an operator
clears it (`localpay witness-alarm --clear`). docs/witnesses.md says what to do.
"""

from __future__ import annotations

from typing import Final

from localpay.domain.errors import LocalpayError
from localpay.domain.witness import RaisedAlarm
from localpay.ledger.replay import ChainError
from localpay.services.witness.ports import WitnessRecords

REASONS: Final = (
    "checkpoint_inconsistent",
    "history_rewritten",
    "invalid_signature",
    "replay_mismatch",
    "merkle_mismatch",
    "gap",
    "chain_invalid",
    "fork",
    "clock_skew",
)


class Alarm(LocalpayError):
    """The chain is inconsistent: the witness must not sign past this."""

    def __init__(self, reason: str, detail: str, height: int = -1) -> None:
        super().__init__(f"{reason}: {detail}")
        assert reason in REASONS, reason
        self.reason = reason
        self.detail = detail
        self.height = height


def classify(error: ChainError) -> str:
    """The alarm reason of a replay failure (ledger/replay.py's messages)."""
    message = str(error)
    if "(clock skew)" in message:
        return "clock_skew"
    if "signature" in message or "not signed by the operator" in message:
        return "invalid_signature"
    if "recorded result" in message:
        return "replay_mismatch"
    if "expected block" in message or "out of place" in message or "header says" in message:
        return "gap"
    if "does not link" in message:
        return "history_rewritten"
    if "Merkle root" in message or "log root" in message:
        return "merkle_mismatch"
    return "chain_invalid"


def clear_alarm(records: WitnessRecords, city: str) -> RaisedAlarm | None:
    """The operator's intervention: forget the city's alarm (returned), so the witness
    follows and signs again when restarted."""
    found = records.alarm(city)
    records.clear_alarm(city)
    return found

"""Commands: typed, canonically encoded, signed.

Canonical encoding (documented in docs/encoding.md, with test vectors):
UTF-8 JSON with no insignificant whitespace, object keys sorted by their UTF-8
bytes, integers only, every field present. A body is accepted only if it
re-encodes to exactly the bytes that were signed, so there is one encoding per
command and a signature covers exactly what the ledger applies.

Signature: Ed25519 over SIGNING_PREFIX + body bytes. The prefix keeps a command
signature from being valid as any other localpay message (block, checkpoint).
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from localpay.domain.errors import Refused
from localpay.domain.limits import (
    BATCH_ROWS_MAX,
    COMMAND_BYTES_MAX,
    KEYS_MAX,
    REFUND_WINDOW_DAYS_MAX,
    SIGNATURES_MAX,
    VALID_DAYS_MAX,
    WITNESSES_MAX,
)
from localpay.domain.money import Amount, Revenue
from localpay.domain.policy import Label, Policy

SIGNING_PREFIX: Final = b"localpay/command/v1\n"


CommandId = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{32}$")]
AccountId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{2,39}$")]
CityId = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9-]{1,30}$")]
PublicKeyHex = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
SignatureHex = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{128}$")]
Reference = Annotated[str, msgspec.Meta(max_length=128, pattern=r"^[\x21-\x7e]*$")]
Keys = Annotated[list[PublicKeyHex], msgspec.Meta(min_length=1, max_length=KEYS_MAX)]
#: A salted SHA-256 of the evidence an eligibility decision was made on (lowercase hex).
EvidenceHash = Annotated[str, msgspec.Meta(pattern=r"^([0-9a-f]{64})?$")]


#: Distinct officials an action needs: one command carries at most SIGNATURES_MAX.
ApprovalCount = Annotated[int, msgspec.Meta(ge=1, le=SIGNATURES_MAX)]


class Official(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    key: PublicKeyHex
    role: Label


class _Command(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="type"):
    id: CommandId
    city: CityId


#: Days a payment may be refunded when the genesis names no window.
DEFAULT_REFUND_WINDOW_DAYS: Final = 365


class CreateCity(_Command, frozen=True, tag="create_city", omit_defaults=True):
    """Genesis: the first and only command of block 0, signed by the operator key.

    `refund_window_days` is the one field with a default, and it is omitted when it
    has it (omit_defaults): a genesis made before the field existed is still the one
    canonical encoding of its command, and decodes to the default window."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")]
    operator_key: PublicKeyHex
    officials: Annotated[list[Official], msgspec.Meta(min_length=1, max_length=64)]
    approvals: Annotated[dict[Label, ApprovalCount], msgspec.Meta(max_length=16)]
    default_valid_days: Annotated[int, msgspec.Meta(ge=1, le=VALID_DAYS_MAX)]
    refund_window_days: Annotated[int, msgspec.Meta(ge=1, le=REFUND_WINDOW_DAYS_MAX)] = (
        DEFAULT_REFUND_WINDOW_DAYS
    )


class AppointOfficial(_Command, frozen=True, tag="appoint_official"):
    """Add an official's key (active) or revoke it (not active)."""

    key: PublicKeyHex
    role: Label
    active: bool


class Witness(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")]
    key: PublicKeyHex


class SetWitnesses(_Command, frozen=True, tag="set_witnesses"):
    """Who co-signs the city's checkpoints, and how many make a checkpoint final."""

    witnesses: Annotated[list[Witness], msgspec.Meta(max_length=WITNESSES_MAX)]
    quorum: Annotated[int, msgspec.Meta(ge=0, le=WITNESSES_MAX)]


class RegisterMerchant(_Command, frozen=True, tag="register_merchant"):
    merchant: AccountId
    keys: Keys
    category: Label
    area: Label
    annual_revenue: Revenue
    registration_hash: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]


class ApproveMerchant(_Command, frozen=True, tag="approve_merchant"):
    merchant: AccountId


#: A suspension for this reason bars the merchant from approval for a year.
FRAUD_REASON: Final = "cash-out-fraud"


class SuspendMerchant(_Command, frozen=True, tag="suspend_merchant"):
    """`reason` FRAUD_REASON (cash-out, 깡) also bars reinstatement for a year."""

    merchant: AccountId
    reason: Reference


class OpenWallet(_Command, frozen=True, tag="open_wallet"):
    wallet: AccountId
    keys: Keys
    custodial: bool


class DefineProgram(_Command, frozen=True, tag="define_program"):
    program: Label
    policy: Policy


class Mint(_Command, frozen=True, tag="mint"):
    """Units created into a program budget against won received in the trust account."""

    program: Label
    amount: Amount
    won_ref: Reference


class Credit(_Command, frozen=True, tag="credit", omit_defaults=True):
    """Policy money paid to a wallet out of the program's budget. `evidence` is the
    salted hash of what its eligibility was decided on (empty when the program judges
    none); the data itself never reaches the chain (services/programs/eligibility.py)."""

    program: Label
    wallet: AccountId
    amount: Amount
    origin: Reference
    evidence: EvidenceHash = ""


class Pay(_Command, frozen=True, tag="pay"):
    wallet: AccountId
    merchant: AccountId
    amount: Amount
    evidence: Reference


class Refund(_Command, frozen=True, tag="refund"):
    merchant: AccountId
    payment: CommandId
    amount: Amount


class Transfer(_Command, frozen=True, tag="transfer"):
    """A gift; from a card (custodial) wallet it carries the card's authorization, as a
    payment does, so a gift cannot go around the card's own limits."""

    wallet: AccountId
    to: AccountId
    amount: Amount
    evidence: Reference


BatchId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
HashHex = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]


class ApproveBatch(_Command, frozen=True, tag="approve_batch"):
    """A disbursement batch approved by the officials (maker-checker) once, for all its
    rows: the Merkle root (RFC 9162) of its row leaves (ledger/batches.py), their count
    and total. Each row is then paid by its own `batch_credit`, which proves the row is
    in the approved batch, so no row can be added, changed or paid twice."""

    batch: BatchId
    program: Label
    rows: Annotated[int, msgspec.Meta(ge=1, le=BATCH_ROWS_MAX)]
    total: Amount
    root: HashHex


class BatchCredit(_Command, frozen=True, tag="batch_credit"):
    """One row of an approved batch paid, signed by the operator (the execution job)."""

    batch: BatchId
    row: Annotated[int, msgspec.Meta(ge=0, lt=BATCH_ROWS_MAX)]
    wallet: AccountId
    amount: Amount
    evidence: EvidenceHash
    proof: Annotated[list[HashHex], msgspec.Meta(max_length=64)]


class OrderPurchase(_Command, frozen=True, tag="order_purchase"):
    """A citizen's order to buy `amount` won of a sale program, signed by the wallet.

    The ledger checks every limit and holds the discount out of the program's budget
    before any won moves; the order then waits for the bank's deposit notice
    (ConfirmPurchase) until the sale's order time runs out."""

    wallet: AccountId
    program: Label
    amount: Amount


class ConfirmPurchase(_Command, frozen=True, tag="confirm_purchase"):
    """The bank's deposit notice for an order, relayed and signed by the operator: the
    won are in the trust account, so the ledger mints the purchased lot and pays the
    held discount as its own lot, both linked to `deposit_ref`."""

    wallet: AccountId
    order: CommandId
    amount: Amount
    deposit_ref: Annotated[
        str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]*$")
    ]


class LapseOrder(_Command, frozen=True, tag="lapse_order"):
    """An order whose won never came, past its deadline: its discount goes back to the
    budget and its room to the buyer. Signed by the operator (a job runs it)."""

    wallet: AccountId
    order: CommandId


class CancelPurchase(_Command, frozen=True, tag="cancel_purchase"):
    """An unused purchase taken back within the sale's cancellation days, by its wallet:
    the won go back in full (a pending payout), the discount back to the budget."""

    wallet: AccountId
    purchase: CommandId


class RefundBalance(_Command, frozen=True, tag="refund_balance"):
    """The rest of a purchase paid back in won once enough of it was used, less the
    discount received; signed by the wallet."""

    wallet: AccountId
    purchase: CommandId


class Cashback(_Command, frozen=True, tag="cashback"):
    """A cashback sale's month-end bonus on what the wallet spent of its purchases in
    `month` (year * 12 + month - 1, Korean calendar), signed by the operator; each
    wallet, program and month is paid once."""

    wallet: AccountId
    program: Label
    month: Annotated[int, msgspec.Meta(ge=0, le=12 * 10_000)]


CardId = Annotated[str, msgspec.Meta(pattern=r"^([0-9a-f]{64})?$")]
#: ISO 8583 field 41 (terminal id, ans 8), field 11 (STAN, n 6), field 37 (RRN, an 12).
TerminalId = Annotated[str, msgspec.Meta(pattern=r"^[\x21-\x7e]{0,8}$")]
Stan = Annotated[str, msgspec.Meta(pattern=r"^([0-9]{6})?$")]
Rrn = Annotated[str, msgspec.Meta(pattern=r"^[\x21-\x7e]{0,12}$")]
ShortRef = Annotated[str, msgspec.Meta(pattern=r"^[\x21-\x7e]{0,64}$")]


class BindCard(_Command, frozen=True, tag="bind_card"):
    """A prepaid card bound to a wallet (active) or unbound (not active). `card` is the
    card's pseudonymous id (an HMAC of its number under the city's card secret: the number
    never reaches the chain), `key` the card host's key for it, the only key that signs
    the card's holds. Signed by one of the wallet's own keys."""

    wallet: AccountId
    card: HashHex
    key: PublicKeyHex
    active: bool


class Hold(_Command, frozen=True, tag="hold", omit_defaults=True):
    """Money of a wallet held for one merchant, drawn by the same rules as a payment.

    A card authorization names the card, terminal, STAN and RRN and is signed by the
    card's bound key; a checkout approval names the intent and the merchant's order and is
    signed by the wallet's own key. `capture`: captured in full at once (a card purchase
    with no authorization before it). Fields at their defaults are omitted."""

    wallet: AccountId
    merchant: AccountId
    amount: Amount
    card: CardId = ""
    terminal: TerminalId = ""
    stan: Stan = ""
    rrn: Rrn = ""
    intent: ShortRef = ""
    order: ShortRef = ""
    capture: bool = False


class Capture(_Command, frozen=True, tag="capture"):
    """A held amount paid to the merchant, in full or in part; the rest goes back to the
    wallet at once. Signed by the merchant or, for a card hold, by the card's key. The
    payment it makes has the hold's id, so refunds name the hold."""

    hold: CommandId
    wallet: AccountId
    merchant: AccountId
    amount: Amount


class Release(_Command, frozen=True, tag="release"):
    """A hold given back in full (a cancellation, a reversal, an expiry). A release of a
    hold not seen yet voids its id: a reversal that overtook its original."""

    hold: CommandId
    wallet: AccountId
    merchant: AccountId


class PresentCode(_Command, frozen=True, tag="present_code"):
    """A customer-presented one-time code: the wallet offers to pay up to `cap` to the
    merchant that claims it within minutes. `code` is the hash of the shown digits."""

    wallet: AccountId
    code: HashHex
    cap: Amount


class ClaimCode(_Command, frozen=True, tag="claim_code"):
    """A merchant's capture of a presented code: `amount` (at most its cap), once."""

    code: HashHex
    wallet: AccountId
    merchant: AccountId
    amount: Amount


class Expire(_Command, frozen=True, tag="expire"):
    wallet: AccountId


class Redeem(_Command, frozen=True, tag="redeem"):
    """Merchant units burned against won paid out of the trust account."""

    merchant: AccountId
    amount: Amount
    payout_ref: Reference


#: A payout's id, written into the bank's file as its EndToEndId (Max35Text): the id of
#: the command that made it (32 hex), or of a citizen's payout (its purchase or lot id).
PayoutId = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-z][0-9a-z._:-]{0,34}$")]
#: An ISO 20022 status or return reason code (ExternalStatusReason1Code: AC04, AM04, …).
ReasonCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{4}$")]


class SetPayoutAccount(_Command, frozen=True, tag="set_payout_account"):
    """The bank account a merchant's balance is paid to, as a keyed digest (HMAC under
    the city's settlement secret of bank code, number and holder): the account itself
    stays off the chain (PIPA), yet no payout can go anywhere the merchant did not name.
    Signed by the merchant."""

    merchant: AccountId
    account: HashHex


class Payout(_Command, frozen=True, tag="payout"):
    """`amount` of a merchant's balance on its way to its registered bank account: the
    units leave the balance for settlement in transit (still in the supply; the won are
    still in the trust account) until the bank confirms or returns them. Signed by the
    merchant (an instant payout) or by the operator (the daily batch, which can only pay
    a merchant's balance to the merchant's own registered account)."""

    merchant: AccountId
    amount: Amount
    account: HashHex


class SettlePayout(_Command, frozen=True, tag="settle_payout", omit_defaults=True):
    """The bank booked a payout (its statement entry `bank_ref`): the units in transit
    are burned against the won that left the trust account. Names the payout's owner
    (one of `merchant`, `wallet`) so its history shows it. Signed by the operator."""

    payout: PayoutId
    bank_ref: Reference
    merchant: str = ""
    wallet: str = ""


class ReturnPayout(_Command, frozen=True, tag="return_payout", omit_defaults=True):
    """The bank refused or sent back a payout (`reason`, e.g. AC04 closed account): a
    merchant's units go back to its balance; a citizen's payout stays owed (pending,
    with the reason) until it is sent to a corrected account. `bank_ref` names the
    statement's credit when a payout the bank had booked comes back (a return after
    settlement): its burned units are made again. Signed by the operator."""

    payout: PayoutId
    reason: ReasonCode
    merchant: str = ""
    wallet: str = ""
    bank_ref: Reference = ""


class RotateOperator(_Command, frozen=True, tag="rotate_operator"):
    """Hand the signing of blocks and checkpoints from the current operator key to a new
    one, from the block after this one on. Signed by the current key (`old_key`, named so
    the command is bound to one link of the chain of keys) and by the officials."""

    old_key: PublicKeyHex
    new_key: PublicKeyHex


Command = (
    CreateCity
    | AppointOfficial
    | SetWitnesses
    | RegisterMerchant
    | ApproveMerchant
    | SuspendMerchant
    | OpenWallet
    | DefineProgram
    | Mint
    | Credit
    | Pay
    | Refund
    | Transfer
    | ApproveBatch
    | BatchCredit
    | OrderPurchase
    | ConfirmPurchase
    | LapseOrder
    | CancelPurchase
    | RefundBalance
    | Cashback
    | BindCard
    | Hold
    | Capture
    | Release
    | PresentCode
    | ClaimCode
    | Expire
    | Redeem
    | SetPayoutAccount
    | Payout
    | SettlePayout
    | ReturnPayout
    | RotateOperator
)

#: Command types that officials sign; each needs `approvals[type]` distinct officials.
OFFICIAL_COMMANDS: Final = frozenset(
    {
        "appoint_official",
        "set_witnesses",
        "register_merchant",
        "approve_merchant",
        "suspend_merchant",
        "define_program",
        "mint",
        "credit",
        "approve_batch",
        # Also needs the current operator key's signature (ledger/machine.py).
        "rotate_operator",
    }
)


#: Distinct officials an official command needs when the genesis names no rule for it:
#: maker-checker unless a city chose otherwise.
DEFAULT_APPROVALS: Final = 2
#: Officials that minting needs at the least: no one person can create money.
MIN_MINT_APPROVALS: Final = 2


def approvals_needed(approvals: dict[str, int], kind: str) -> int:
    """Distinct officials a command of this type needs in a city with these rules."""
    return approvals.get(kind, DEFAULT_APPROVALS)


class Signature(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    key: PublicKeyHex
    sig: SignatureHex


class Envelope(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What travels and what is stored: the exact body bytes and their signatures."""

    body: msgspec.Raw
    sigs: Annotated[list[Signature], msgspec.Meta(min_length=1, max_length=SIGNATURES_MAX)]


_body_decoder: Final = msgspec.json.Decoder(Command)
_envelope_decoder: Final = msgspec.json.Decoder(Envelope)
_encoder: Final = msgspec.json.Encoder(order="sorted")


def encode_canonical(value: object) -> bytes:
    return _encoder.encode(value)


def command_type(command: Command) -> str:
    return type(command).__struct_config__.tag  # type: ignore[return-value]


class DecodeError(Refused, ValueError):
    """The bytes are not a well-formed command; carries the precise reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def decode_envelope(data: bytes) -> tuple[Envelope, Command]:
    """Parse an envelope and its body; raise DecodeError(code, reason) if unusable."""
    if len(data) > COMMAND_BYTES_MAX:
        raise DecodeError("malformed", f"command larger than {COMMAND_BYTES_MAX} bytes")
    try:
        envelope = _envelope_decoder.decode(data)
        command = _body_decoder.decode(envelope.body)
    except msgspec.ValidationError as exc:
        raise DecodeError("malformed", str(exc)) from None
    except msgspec.DecodeError as exc:
        raise DecodeError("malformed", f"not JSON: {exc}") from None
    except (ValueError, RecursionError) as exc:
        # msgspec lets invalid UTF-8 escape as UnicodeDecodeError and deep nesting as
        # RecursionError: at the trust boundary every unreadable input is an answer.
        raise DecodeError("malformed", f"unreadable: {type(exc).__name__}") from None
    if _encoder.encode(command) != bytes(envelope.body):
        raise DecodeError("not_canonical", "body must be canonical JSON (sorted keys, no spaces)")
    return envelope, command


def signing_message(body: bytes) -> bytes:
    return SIGNING_PREFIX + body
